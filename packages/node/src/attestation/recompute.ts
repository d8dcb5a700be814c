import { computeUnits, type RecomputedSample, responseHash, responseOutput } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
<<<<<<< HEAD
import type { Hex } from "viem";
import { UnrecomputableRequestError } from "./errors.js";

/**
 * Regenerates each request with the engine (the body as the owner signed it: same sampling settings, and the seed
 * it names or the one derived from its hash) and returns, in order, the response hashes and the units each used
 * by this replay's own usage (prompt plus completion tokens): what an attester commits to.
=======
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
>>>>>>> flow
 */
export async function recomputeSample(
  engine: InferenceEngine,
<<<<<<< HEAD
  bodies: readonly Record<string, unknown>[],
  signal?: AbortSignal,
): Promise<RecomputedSample> {
  const respHashes: RecomputedSample["respHashes"][number][] = [];
  const units: bigint[] = [];
  for (const [index, body] of bodies.entries()) {
    const response = (await recomputeOne(engine, body, index, signal)) as {
      usage: { prompt_tokens: number; completion_tokens?: number };
    };
    respHashes.push(responseHash(response));
    units.push(computeUnits(response.usage));
=======
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
>>>>>>> flow
  }
  return { respHashes, units };
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

/**
 * Regenerates each request as `recomputeSample` does and returns the bytes each response hash is the hash
 * of (`responseOutput`): what a dispute committee member shows after its reveal.
 */
export async function recomputeOutputs(
  engine: InferenceEngine,
  bodies: readonly Record<string, unknown>[],
  signal?: AbortSignal,
): Promise<Hex[]> {
  const outputs: Hex[] = [];
  for (const [index, body] of bodies.entries()) {
    outputs.push(responseOutput(await recomputeOne(engine, body, index, signal)));
  }
  return outputs;
}
