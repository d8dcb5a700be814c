import type { SseLimits } from "@atoma/sdk";
import type { Endpoint } from "../limits/requestBound.js";

const MIB = 1024 * 1024;
/** What one unit (a token) may take in a chat or completion answer, logprobs and a stream chunk's envelope included. */
const BYTES_PER_UNIT = 8 * 1024;
const BASE_BYTES = MIB;

/**
 * How much of a node's answer the gateway reads for a request bounded at `maxUnits`: a hostile node would
 * otherwise fill the gateway's memory with the SDK's generous defaults (64 MiB an answer, 256 MiB a stream) on
 * every request. Embeddings are left the defaults: a vector per input token is far larger than a token.
 */
export function answerCapsFor(
  endpoint: Endpoint,
  maxUnits: bigint,
): { maxAnswerBytes?: number; streamLimits?: SseLimits } {
  if (endpoint === "embeddings") return {};
  const units = Number(maxUnits > 1_000_000n ? 1_000_000n : maxUnits);
  const bytes = BASE_BYTES + units * BYTES_PER_UNIT;
  return {
    maxAnswerBytes: Math.min(bytes, 64 * MIB),
    streamLimits: { maxTotalBytes: Math.min(bytes, 256 * MIB) },
  };
}
