import { computeUnits, type RecomputedSample, responseHash, responseOutput } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import type { Hex } from "viem";
import { UnrecomputableRequestError } from "./errors.js";

/**
 * Regenerates each request with the engine (the body as the owner signed it: same sampling settings, and the seed
 * it names or the one derived from its hash) and returns, in order, the response hashes and the units each used
 * by this replay's own usage (prompt plus completion tokens): what an attester commits to.
 */
export async function recomputeSample(
  engine: InferenceEngine,
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
  }
  return { respHashes, units };
}

async function recomputeOne(
  engine: InferenceEngine,
  body: Record<string, unknown>,
  index: number,
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
  if ("input" in body) return engine.embed(body, { signal });
  throw new UnrecomputableRequestError(
    `sampled request ${index} is not a chat, completion or embeddings body`,
  );
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
