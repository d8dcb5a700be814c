import type { SseLimits } from "@atoma/sdk";
import type { Endpoint } from "../limits/requestBound.js";

const MIB = 1024 * 1024;
/** What one unit (a token) may take with logprobs: its alternatives, each with its bytes and log probability. */
const LOGPROB_BYTES_PER_UNIT = 8 * 1024;
/** What one unit may take in a stream: a chunk's envelope (id, model, choice) around its text, escaped. */
const STREAM_BYTES_PER_UNIT = 1024;
/** What one unit may take in a JSON answer: its text, every character escaped as `\u` and four hex digits (6 bytes). */
const JSON_BYTES_PER_UNIT = 256;
const BASE_BYTES = MIB;
/** The most one answer without logprobs is read to, whatever its bound. */
const PLAIN_CAP = 16 * MIB;

/**
 * How much of a node's answer the gateway reads for a request bounded at `maxUnits`: a hostile node (a client
 * pinned to its own node) would otherwise fill the gateway's memory with the SDK's generous defaults (64 MiB an
 * answer, 256 MiB a stream) on every request. Only a request asking for logprobs gets the room they take.
 * Embeddings are left the defaults: a vector per input token is far larger than a token.
 */
export function answerCapsFor(
  endpoint: Endpoint,
  maxUnits: bigint,
  body: Record<string, unknown> = {},
): { maxAnswerBytes?: number; streamLimits?: SseLimits } {
  if (endpoint === "embeddings") return {};
  const units = Number(maxUnits > 1_000_000n ? 1_000_000n : maxUnits);
  const logprobs = Boolean(body.logprobs) || body.top_logprobs !== undefined;
  const perUnit = logprobs
    ? LOGPROB_BYTES_PER_UNIT
    : body.stream === true
      ? STREAM_BYTES_PER_UNIT
      : JSON_BYTES_PER_UNIT;
  const bytes = BASE_BYTES + units * perUnit;
  const cap = (most: number) => Math.min(bytes, logprobs ? most : PLAIN_CAP);
  return { maxAnswerBytes: cap(64 * MIB), streamLimits: { maxTotalBytes: cap(256 * MIB) } };
}
