import { computeUnits, type Hash, requestHash, resultBytes, type TranscriptEntry } from "@atoma/core";
import { keccak256 } from "viem";
import type { LeafInput } from "../accounting/types.js";
import { LeafEncodingError } from "./errors.js";

/** An engine's complete answer, without the atoma object. */
export type Answer = Record<string, unknown> & {
  usage: { prompt_tokens: number; completion_tokens?: number | undefined };
};

/** Hashes the value a JSON text round trip gives back: what a reader of the leaf's record will hash. */
const afterRecord = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * The leaf an answer adds: the actual units, the response hash, and the request and response as they will be
 * stored, checked to read back (through the leaf's JSON text) to exactly what is signed, so the record, the
 * transcript and the receipt can never disagree. Throws `LeafEncodingError` otherwise (nothing is committed).
 */
export function leafInput(
  request: TranscriptEntry,
  reqHash: Hash,
  response: Answer,
  seed: number | bigint,
): LeafInput {
  // The response hash is the hash of the result bytes: hashed once, the record checked on the bytes themselves.
  const result = resultBytes(response);
  const respHash = keccak256(result);
  if (requestHash(afterRecord(request).body) !== reqHash) throw new LeafEncodingError("request");
  if (!Buffer.from(resultBytes(afterRecord(response))).equals(result))
    throw new LeafEncodingError("response");
  return { units: computeUnits(response.usage), reqHash, respHash, seed: BigInt(seed), request, response };
}
