import type { ChatResult, CompletionResult, EngineStream } from "@atoma/engine";
import type { Permit } from "../admission/admissionGate.js";
import { httpErrorOf } from "../http/errorResponse.js";
import type { StackApi } from "./apiContext.js";
import { type Admitted, recordSuccess, releaseQuietly } from "./completeInference.js";
import { engineCall, fromEngineError } from "./engineErrors.js";
import { type Answer, leafInput } from "./leafInput.js";
import { outcomeOf } from "./outcome.js";
import { signReceipt } from "./receipt.js";
import { finalChunk, SSE_HEADERS, sseEvent } from "./sse.js";

type AnyStream = EngineStream<unknown, ChatResult | CompletionResult>;

/**
 * Streams a request's chunks as server-sent events. The engine call starts before the response does, so a busy
 * engine or a bad request still gets its status code. When generation ends the leaf is committed, and only then
 * is the final event (usage and the signed `atoma` object) written. The reservation is released and the permit
 * returned however the stream ends: finished, failed, or its client gone.
 */
export async function streamInference(api: StackApi, admitted: Admitted, permit: Permit): Promise<Response> {
  const { endpoint, reservation } = admitted;
  let engineStream: AnyStream;
  try {
    engineStream = await engineCall<AnyStream>(async () =>
      endpoint === "chat"
        ? ((await api.engine.streamChat(admitted.body, { signal: admitted.signal })) as AnyStream)
        : ((await api.engine.streamComplete(admitted.body, { signal: admitted.signal })) as AnyStream),
    );
  } catch (error) {
    await releaseQuietly(api, reservation);
    permit.release();
    throw error;
  }
  const chunks = engineStream[Symbol.asyncIterator]();
  let committed = false;
  let firstToken = true;
  let finished = false;
  const finish = async (outcome: string) => {
    if (finished) return;
    finished = true;
    if (!committed) await releaseQuietly(api, reservation);
    permit.release();
    if (outcome !== "ok") api.metrics?.requests.inc({ endpoint, outcome });
  };

  const body = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const next = await chunks.next();
        if (!next.done) {
          if (firstToken) {
            firstToken = false;
            api.metrics?.timeToFirstToken.observe(
              { endpoint },
              (performance.now() - admitted.started) / 1000,
            );
          }
          controller.enqueue(sseEvent(next.value));
          return;
        }
        const { response, generation } = await engineStream.result;
        const leaf = await api.accounting.commit(
          reservation,
          leafInput(
            admitted.request,
            admitted.reqHash,
            response as unknown as Answer,
            generation.sampling.seed,
          ),
        );
        committed = true;
        const atoma = await signReceipt(api, leaf);
        controller.enqueue(sseEvent(finalChunk(response as unknown as Record<string, unknown>, atoma)));
        controller.enqueue(sseEvent("[DONE]"));
        controller.close();
        recordSuccess(api, endpoint, response.usage, admitted.started);
        await finish("ok");
      } catch (error) {
        const mapped = httpErrorOf(fromEngineError(error));
        if (!mapped.expected) api.logger.error({ err: error }, "stream failed");
        try {
          controller.enqueue(sseEvent(mapped.body));
          controller.close();
        } catch {
          // the client is gone already
        }
        await finish(outcomeOf(fromEngineError(error)));
      }
    },
    cancel: async () => {
      try {
        await chunks.return?.();
      } finally {
        await finish("aborted");
      }
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
