import { type Hash, responseHash } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { engineRefused, INVALID_REQUEST_HASH, invalidForTask } from "./invalidRequest.js";

export interface RecomputeOptions {
  /** The task's model (on-chain id): a body naming another is an invalid request. Unchecked when absent. */
  taskModelId?: Hash | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Regenerates each request with the engine (the body as the owner signed it: same sampling settings, and the seed
 * it names or the one derived from its hash) and returns the response hashes, in order. A request that is not
 * valid for the task gets the fixed invalid-request result, which every honest node computes alike.
 */
export async function recomputeResponseHashes(
  engine: InferenceEngine,
  bodies: readonly unknown[],
  options: RecomputeOptions = {},
): Promise<Hash[]> {
  const hashes: Hash[] = [];
  for (const body of bodies) {
    options.signal?.throwIfAborted();
    if (invalidForTask(body, options.taskModelId) !== undefined) {
      hashes.push(INVALID_REQUEST_HASH);
      continue;
    }
    try {
      hashes.push(responseHash(await recomputeOne(engine, body as Record<string, unknown>, options.signal)));
    } catch (error) {
      if (!engineRefused(error)) throw error;
      hashes.push(INVALID_REQUEST_HASH);
    }
  }
  return hashes;
}

async function recomputeOne(
  engine: InferenceEngine,
  body: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  // A streamed request is replayed as a stream: the body (and so a derived seed) must stay as signed.
  const streamed = body.stream === true;
  if ("messages" in body)
    return streamed
      ? (await (await engine.streamChat(body, { signal })).collect()).response
      : (await engine.chat(body, { signal })).response;
  if ("prompt" in body)
    return streamed
      ? (await (await engine.streamComplete(body, { signal })).collect()).response
      : (await engine.complete(body, { signal })).response;
  return engine.embed(body, { signal });
}
