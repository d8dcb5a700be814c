import { type Address, type Hex, isAddress, isHex, stringToBytes, type TypedDataDomain } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import { InvalidInputError } from "./errors.js";
import { blobId, type Hash, requestHash } from "./hash.js";
import { assertRequestSigner } from "./signatures.js";

/** One owner-signed request as the node received it: the body and the fields of its EIP-712 signature. */
export interface TranscriptEntry {
  body: Record<string, unknown>;
  /** Decimal string (uint256). */
  nonce: string;
  /** Decimal string, unix seconds (uint64). */
  deadline: string;
  signature: Hex;
}

/**
 * The inputs transcript of a stack: every owner-signed request it served, in leaf order, never the outputs.
 * Its blob id (H of its canonical bytes) is what the node submits with its settlement; attesters fetch it,
 * check the id, check every owner signature, and recompute the sampled requests.
 */
export interface InputsTranscript {
  version: 1;
  chainId: number;
  /** The stacks contract (the EIP-712 verifying contract). */
  stacks: Address;
  /** Decimal string (uint256). */
  stackId: string;
  requests: TranscriptEntry[];
}

export interface TranscriptLimits {
  /** @default 64 MiB */
  maxBytes?: number | undefined;
  /** @default 1_000_000 */
  maxRequests?: number | undefined;
}

export class InvalidTranscriptError extends InvalidInputError {
  override name = "InvalidTranscriptError";
}

export function encodeTranscript(transcript: InputsTranscript): Uint8Array {
  return stringToBytes(canonicalJson(transcript));
}

export function transcriptId(transcript: InputsTranscript): Hash {
  return blobId(encodeTranscript(transcript));
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isDecimal = (v: unknown): v is string => typeof v === "string" && /^(0|[1-9]\d{0,77})$/.test(v);

/** Parses and shape-checks transcript bytes; throws `InvalidTranscriptError` naming what is wrong. */
export function decodeTranscript(bytes: Uint8Array, limits: TranscriptLimits = {}): InputsTranscript {
  if (bytes.byteLength > (limits.maxBytes ?? 64 * 1024 * 1024))
    throw new InvalidTranscriptError("transcript is too large");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new InvalidTranscriptError("transcript is not UTF-8 JSON", { cause });
  }
  if (!isRecord(value) || value.version !== 1)
    throw new InvalidTranscriptError("transcript version must be 1");
  const { chainId, stacks, stackId, requests } = value;
  if (!Number.isSafeInteger(chainId) || (chainId as number) <= 0)
    throw new InvalidTranscriptError("bad chainId");
  if (typeof stacks !== "string" || !isAddress(stacks, { strict: false }))
    throw new InvalidTranscriptError("bad stacks address");
  if (!isDecimal(stackId)) throw new InvalidTranscriptError("bad stackId");
  if (!Array.isArray(requests) || requests.length > (limits.maxRequests ?? 1_000_000))
    throw new InvalidTranscriptError("requests must be a bounded array");
  requests.forEach((entry: unknown, index) => {
    if (
      !isRecord(entry) ||
      !isRecord(entry.body) ||
      !isDecimal(entry.nonce) ||
      !isDecimal(entry.deadline) ||
      typeof entry.signature !== "string" ||
      !isHex(entry.signature)
    )
      throw new InvalidTranscriptError(`request ${index} is malformed`);
  });
  return value as unknown as InputsTranscript;
}

/**
 * Checks that every request was signed by `owner` for this stack under `domain`, and returns the request
 * hashes in order. A node cannot pad a stack with requests the owner never made.
 */
export async function verifyTranscript(
  transcript: InputsTranscript,
  expected: { owner: Address; stackId: bigint; domain: TypedDataDomain },
): Promise<Hash[]> {
  if (BigInt(transcript.stackId) !== expected.stackId)
    throw new InvalidTranscriptError("transcript is for another stack");
  if (
    BigInt(transcript.chainId) !== BigInt(expected.domain.chainId ?? -1) ||
    transcript.stacks.toLowerCase() !== String(expected.domain.verifyingContract).toLowerCase()
  )
    throw new InvalidTranscriptError("transcript is for another chain or stacks contract");
  const hashes: Hash[] = [];
  for (const [index, entry] of transcript.requests.entries()) {
    const reqHash = requestHash(entry.body);
    try {
      await assertRequestSigner(
        expected.domain,
        { stackId: expected.stackId, reqHash, nonce: BigInt(entry.nonce), deadline: BigInt(entry.deadline) },
        entry.signature,
        expected.owner,
      );
    } catch (cause) {
      throw new InvalidTranscriptError(`request ${index} is not signed by the stack owner`, { cause });
    }
    hashes.push(reqHash);
  }
  return hashes;
}
