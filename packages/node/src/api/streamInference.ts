import type { Context } from "hono";
import type { Permit } from "../admission/admissionGate.js";
import { logUnexpected } from "../confidential/failureLog.js";
import { SealedStream, sealedChunkEvent } from "../confidential/sealedAnswer.js";
import { sealedErrorBody } from "../confidential/sealedError.js";
import { closeUnlessDeliveredWithin } from "../http/deliveryDeadline.js";
import { httpErrorOf } from "../http/errorResponse.js";
import type { StackApi } from "./apiContext.js";
import { commitAnswer } from "./commitAnswer.js";
import { fromEngineError } from "./engineErrors.js";
import type { Answer } from "./leafInput.js";
import { outcomeOf, recordSuccess } from "./outcome.js";
import { signReceipt } from "./receipt.js";
import { releaseQuietly } from "./reserve.js";
import { type AnyEngineStream, streamEngine } from "./runEngine.js";
import type { Admitted } from "./signedRequest.js";
import { finalChunk, isUsageOnly, SSE_HEADERS, sseEvent } from "./sse.js";

/**
 * Streams a request's chunks as server-sent events. The engine call starts before the response does, so a busy
 * engine or a bad request still gets its status code. Generation then runs to its end whether or not the client
 * reads (chunks wait in the response's queue): the leaf is committed when generation ends, and only then is the
 * final event (usage and the signed `atoma` object) queued, so how fast the client reads decides nothing about
 * what is recorded, charged or settled. A client that goes away while the answer is generated stops it: the
 * reservation is released (nothing recorded, no receipt). The permit is returned when generation ends. Once the
 * answer is complete the client has `limits.streamWriteTimeoutMs` to take the rest before its connection closes.
 */
export async function streamInference(
  api: StackApi,
  c: Context,
  admitted: Admitted,
  permit: Permit,
): Promise<Response> {
  const { endpoint, reservation } = admitted;
  // Stops generation when the response is cancelled (its client gone) even where the request's signal is not tied
  // to the connection.
  const cancelled = new AbortController();
  const signal = AbortSignal.any([admitted.signal, cancelled.signal]);
  let engineStream: AnyEngineStream;
  try {
    engineStream = await streamEngine(api.engine, admitted.prepared, signal);
  } catch (error) {
    await releaseQuietly(api, reservation);
    permit.release();
    throw error;
  }

  let queue!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => {
      queue = controller;
    },
    cancel: () => cancelled.abort(),
  });
  const send = (bytes: Uint8Array) => {
    if (cancelled.signal.aborted) return;
    try {
      queue.enqueue(bytes);
    } catch {
      // the response is gone already
    }
  };
  const end = () => {
    if (cancelled.signal.aborted) return;
    try {
      queue.close();
    } catch {
      // the response is gone already
    }
  };

  const generate = async (): Promise<void> => {
    let committed = false;
    let outcome = "ok";
    try {
      // A confidential answer: every chunk sealed with its sequence number, the leaf recording the sealed chunks.
      const sealed = admitted.sealer ? new SealedStream(admitted.sealer) : undefined;
      let firstToken = true;
      for await (const chunk of engineStream) {
        if (firstToken) {
          firstToken = false;
          api.metrics?.timeToFirstToken.observe({ endpoint }, (performance.now() - admitted.started) / 1000);
        }
        // The final event carries the usage (whatever stream_options says): the engine's own usage chunk would repeat it.
        if (isUsageOnly(chunk)) continue;
        send(sseEvent(sealed ? sealedChunkEvent(sealed.chunk(chunk)) : chunk));
      }
      const { response, generation } = await engineStream.result;
      const clear = response as unknown as Answer;
      const closing = sealed?.end(clear.usage);
      if (closing) send(sseEvent(sealedChunkEvent(closing.sealed)));
      const answer = closing ? closing.answer : clear;
      const leaf = await commitAnswer(api, admitted, answer, generation.sampling.seed);
      committed = true;
      permit.release();
      recordSuccess(api, endpoint, answer.usage, admitted.started);
      const atoma = await signReceipt(api, leaf);
      send(
        sseEvent(closing ? { object: answer.object, usage: answer.usage, atoma } : finalChunk(answer, atoma)),
      );
      send(sseEvent("[DONE]"));
      end();
      closeUnlessDeliveredWithin(c, api.limits.streamWriteTimeoutMs);
    } catch (error) {
      if (signal.aborted) {
        outcome = "aborted"; // its client is gone: nobody reads an error, and it is no server fault
        end();
        return;
      }
      const mapped = httpErrorOf(fromEngineError(error));
      if (!mapped.expected) logUnexpected(api.logger, error, admitted.sealer !== undefined, "stream failed");
      // A sealed request's error goes out sealed: its text may quote the prompt.
      send(sseEvent(admitted.sealer ? sealedErrorBody(admitted.sealer, mapped) : mapped.body));
      end();
      outcome = outcomeOf(fromEngineError(error));
    } finally {
      if (!committed) {
        await releaseQuietly(api, reservation);
        permit.release();
      }
      if (outcome !== "ok") api.metrics?.requests.inc({ endpoint, outcome });
    }
  };
  void generate();
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
