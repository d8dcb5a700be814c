import {
  canonicalJson,
  computeUnits,
  type Hash,
  type RecomputedSample,
  responseHash,
  responseOutput,
} from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { type Hex, stringToHex } from "viem";
import {
  engineRefused,
  INVALID_REQUEST_HASH,
  INVALID_REQUEST_RESULT,
  invalidForTask,
} from "./invalidRequest.js";

export interface RecomputeOptions {
  /** The task's model (on-chain id): a body naming another is an invalid request. Unchecked when absent. */
  taskModelId?: Hash | undefined;
  signal?: AbortSignal | undefined;
}

/** The bytes of the invalid-request result (what a committee member shows for it; its hash is INVALID_REQUEST_HASH). */
const INVALID_REQUEST_OUTPUT: Hex = stringToHex(canonicalJson(INVALID_REQUEST_RESULT));

/**
 * Regenerates each request with the engine (the body as the owner signed it: same sampling settings, and the seed
 * it names or the one derived from its hash) and returns, in order, the response hashes and the units each used
 * by this replay's own usage (prompt plus completion tokens): what an attester commits to. A request that is not
 * valid for the task gets the fixed invalid-request result (0 units), which every honest node computes alike.
 */
export async function recomputeSample(
  engine: InferenceEngine,
  bodies: readonly unknown[],
  options: RecomputeOptions = {},
): Promise<RecomputedSample> {
  const respHashes: RecomputedSample["respHashes"][number][] = [];
  const units: bigint[] = [];
  for (const body of bodies) {
    const response = (await replay(engine, body, options)) as
      | { usage: { prompt_tokens: number; completion_tokens?: number } }
      | undefined;
    if (response === undefined) {
      respHashes.push(INVALID_REQUEST_HASH);
      units.push(0n);
      continue;
    }
    respHashes.push(responseHash(response));
    units.push(computeUnits(response.usage));
  }
  return { respHashes, units };
}

/**
 * Regenerates each request as `recomputeSample` does and returns the bytes each response hash is the hash
 * of (`responseOutput`, or the invalid-request result's): what a dispute committee member shows after its reveal.
 */
export async function recomputeOutputs(
  engine: InferenceEngine,
  bodies: readonly unknown[],
  options: RecomputeOptions = {},
): Promise<Hex[]> {
  const outputs: Hex[] = [];
  for (const body of bodies) {
    const response = await replay(engine, body, options);
    outputs.push(response === undefined ? INVALID_REQUEST_OUTPUT : responseOutput(response));
  }
  return outputs;
}

/** The engine's response to `body`, or undefined when the request is not valid for the task. */
async function replay(engine: InferenceEngine, body: unknown, options: RecomputeOptions): Promise<unknown> {
  options.signal?.throwIfAborted();
  if (invalidForTask(body, options.taskModelId) !== undefined) return undefined;
  try {
    return await recomputeOne(engine, body as Record<string, unknown>, options.signal);
  } catch (error) {
    if (!engineRefused(error)) throw error;
    return undefined;
  }
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
