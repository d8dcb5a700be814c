import type { Hash } from "@atoma/core";
import type { Context } from "hono";
import { findLeafByNonce } from "../accounting/stacks.js";
import type { StoredLeaf } from "../accounting/types.js";
import { isSealedAnswer, sealedChunkEvent } from "../confidential/sealedAnswer.js";
import type { StackApi } from "./apiContext.js";
import type { RequestEnvelope } from "./envelope.js";
import { signReceipt } from "./receipt.js";
import type { SignedRequest } from "./signedRequest.js";
import { finalChunk, SSE_HEADERS, sseEvent, storedAsChunk } from "./sse.js";

/** The leaf already committed for this exact signed request (same stack, nonce and request hash), if any. */
export async function findAnswered(
  api: StackApi,
  envelope: RequestEnvelope,
  reqHash: Hash,
): Promise<StoredLeaf | undefined> {
  const leaf = await findLeafByNonce(api.db, envelope.stackId, envelope.nonce);
  return leaf && leaf.reqHash === reqHash ? leaf : undefined;
}

/**
 * Answers a resend of a request already committed (its client lost the answer: connection cut, node restarted)
 * with the stored response and the same signed fields: one leaf, one charge. A used nonce without such a leaf
 * stays `NonceReusedError` (a replay, or a request that died before committing and was never charged).
 */
export async function answerResend(
  api: StackApi,
  c: Context,
  leaf: StoredLeaf,
  stream: boolean,
): Promise<Response> {
  const atoma = await signReceipt(api, leaf);
  const response = leaf.response as Record<string, unknown>;
  api.logger.debug({ stackId: String(leaf.stackId), leafIndex: String(leaf.leafIndex) }, "answered a resend");
  if (!stream) return c.json({ ...response, atoma });
  const events = (
    isSealedAnswer(response)
      ? [
          ...(response.chunks as `0x${string}`[]).map(sealedChunkEvent),
          { object: response.object, usage: response.usage, atoma },
          "[DONE]",
        ]
      : [storedAsChunk(response), finalChunk(response, atoma), "[DONE]"]
  ).map(sseEvent);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(event);
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}

/**
 * Where a step refuses a request (its deadline passed, its nonce is used, its stack spent or closed), a resend of
 * one already answered still gets the stored answer; anything else gets the refusal.
 */
export async function answerResendOr(
  api: StackApi,
  c: Context,
  signed: SignedRequest,
  refusal: unknown,
): Promise<Response> {
  const answered = await findAnswered(api, signed.envelope, signed.reqHash);
  if (!answered) throw refusal;
  api.metrics?.requests.inc({ endpoint: signed.endpoint, outcome: "resent" });
  return answerResend(api, c, answered, signed.stream);
}
