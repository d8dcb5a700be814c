import {
  computeUnits,
  type Hash,
  keccak256Hex,
  requestHash,
  resultBytes,
  type TranscriptEntry,
} from "@atoma/core";
import type { LeafInput } from "../accounting/types.js";
import { LeafEncodingError } from "./errors.js";

/** An engine's complete answer, without the atoma object. */
export type Answer = Record<string, unknown> & {
  usage: { prompt_tokens: number; completion_tokens?: number | undefined };
};

/**
 * The leaf an answer adds: the actual units, the response hash, and the request and response as they will be
 * stored, checked to read back (through the leaf's JSON text) to exactly what is signed, so the record, the
 * transcript and the receipt can never disagree. Throws `LeafEncodingError` otherwise (nothing is committed). The
 * JSON texts checked are the ones stored (`recorded`): each value is serialised once.
 */
export function leafInput(
  request: TranscriptEntry,
  reqHash: Hash,
  response: Answer,
  seed: number | bigint,
): LeafInput {
  // The response hash is the hash of the result bytes: hashed once, the record checked on the bytes themselves.
  const result = resultBytes(response);
  const respHash = keccak256Hex(result);
  // What a reader of the leaf's record will hash: the values its JSON texts give back.
  const recorded = { request: JSON.stringify(request), response: JSON.stringify(response) };
  if (requestHash((JSON.parse(recorded.request) as TranscriptEntry).body) !== reqHash)
    throw new LeafEncodingError("request");
  if (!Buffer.from(resultBytes(JSON.parse(recorded.response) as Answer)).equals(result))
    throw new LeafEncodingError("response");
  return {
    units: computeUnits(response.usage),
    reqHash,
    respHash,
    seed: BigInt(seed),
    request,
    response,
    recorded,
  };
}
