import { type Address, type Hex, isAddress, isHex, stringToBytes, type TypedDataDomain } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import type { CoreErrorCode } from "./errorCodes.js";
import { InvalidInputError } from "./errors.js";
import { blobId, type Hash, requestHash } from "./hash.js";
import { assertRequestSigner } from "./signatures.js";
import { leafHash, type StackLeaf } from "./stackLeaf.js";
import { stackRoot } from "./stackTree.js";

/** One owner-signed request as the node received it: the body and the fields of its EIP-712 signature. */
export interface TranscriptEntry {
  body: Record<string, unknown>;
  /** Decimal string (uint256): the request's leaf index. */
  nonce: string;
  /** Decimal string, unix seconds (uint64). */
  deadline: string;
  /** Decimal string (uint64): the most units the owner allowed this request's leaf. */
  max_units: string;
  signature: Hex;
}

/** One entry of a version-2 transcript: the owner-signed request and the rest of its leaf (never the output). */
export interface TranscriptLeafEntry extends TranscriptEntry {
  response_hash: Hash;
  /** Decimal string (uint64). */
  units: string;
  /** Decimal string (uint64). */
  cumulative_units: string;
}

/**
 * The inputs transcript of a stack: every owner-signed request it served, in leaf order, with the rest of each
 * leaf (response hash, units, running total) but never an output. Its blob id (H of its canonical bytes) is what
 * the node submits with its settlement; anyone holding it rebuilds every leaf and the root, and attesters audit
 * it (`verifyTranscript`) and recompute the sampled requests.
 */
export interface InputsTranscript {
  version: 2;
  chainId: number;
  /** The stacks contract (the EIP-712 verifying contract). */
  stacks: Address;
  /** Decimal string (uint256). */
  stackId: string;
  requests: TranscriptLeafEntry[];
}

export interface TranscriptLimits {
  /** @default 64 MiB */
  maxBytes?: number | undefined;
  /** @default 1_000_000 */
  maxRequests?: number | undefined;
}

/** The transcript is malformed, or not what the stack's settlement says. */
export class InvalidTranscriptError extends InvalidInputError {
  override name = "InvalidTranscriptError";
}

/** The same owner-signed request appears twice (one signature at two leaves): a copy billed again. */
export class RepeatedRequestError extends InvalidTranscriptError {
  override name = "RepeatedRequestError";
  override readonly code: CoreErrorCode = "transcript_repeated_request";
}

/** Two leaves carry one nonce: a request billed twice. */
export class RepeatedNonceError extends InvalidTranscriptError {
  override name = "RepeatedNonceError";
  override readonly code: CoreErrorCode = "transcript_repeated_nonce";
}

/** A leaf's nonce is not its index: the owner's k-th request must be leaf k. */
export class NonceNotLeafIndexError extends InvalidTranscriptError {
  override name = "NonceNotLeafIndexError";
  override readonly code: CoreErrorCode = "transcript_nonce_not_index";
}

/** The running totals do not add up (cum(k) ≠ cum(k-1) + units(k), starting from 0), or not to the units settled. */
export class RunningTotalError extends InvalidTranscriptError {
  override name = "RunningTotalError";
  override readonly code: CoreErrorCode = "transcript_running_total";
}

/** A leaf claims more units than its owner-signed request allows (`maxUnits`): an overclaim. */
export class UnitsOverSignedError extends InvalidTranscriptError {
  override name = "UnitsOverSignedError";
  override readonly code: CoreErrorCode = "transcript_units_over_signed";
}

/** The transcript's leaves do not rebuild the root the node settled: it is not that stack's transcript. */
export class TranscriptRootMismatchError extends InvalidTranscriptError {
  override name = "TranscriptRootMismatchError";
  override readonly code: CoreErrorCode = "transcript_root_mismatch";
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
const isUint64 = (v: unknown): v is string => isDecimal(v) && BigInt(v) < 1n << 64n;
const isHash = (v: unknown): v is Hash => typeof v === "string" && /^0x[0-9a-fA-F]{64}$/.test(v);

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
  if (!isRecord(value) || value.version !== 2)
    throw new InvalidTranscriptError("transcript version must be 2");
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
      !isUint64(entry.deadline) ||
      !isUint64(entry.max_units) ||
      typeof entry.signature !== "string" ||
      !isHex(entry.signature) ||
      !isHash(entry.response_hash) ||
      !isUint64(entry.units) ||
      !isUint64(entry.cumulative_units)
    )
      throw new InvalidTranscriptError(`request ${index} is malformed`);
  });
  return value as unknown as InputsTranscript;
}

/**
 * The leaves a transcript's entries stand for, exactly as written (index = position, nonce and running total as
 * given, nothing checked): what a node that built its root from them committed to. `verifyTranscript` checks them.
 */
export function transcriptLeaves(transcript: InputsTranscript): StackLeaf[] {
  return transcript.requests.map((entry, index) => ({
    leafIndex: BigInt(index),
    nonce: BigInt(entry.nonce),
    reqHash: requestHash(entry.body),
    respHash: entry.response_hash,
    units: BigInt(entry.units),
    cumulativeUnits: BigInt(entry.cumulative_units),
  }));
}

/** What a transcript holds once audited: each request hash and leaf in order, and the root they rebuild. */
export interface AuditedTranscript {
  reqHashes: Hash[];
  leaves: StackLeaf[];
  /** The stack root of the leaves; undefined for an empty transcript. */
  root: Hash | undefined;
  /** The last leaf's running total (0 without leaves). */
  units: bigint;
}

/** What the chain says the transcript must match; each field given is checked. */
export interface TranscriptExpectations {
  owner: Address;
  stackId: bigint;
  domain: TypedDataDomain;
  /** The settled root. */
  root?: Hash | undefined;
  /** The settled units: the last leaf's running total. */
  units?: bigint | undefined;
  /** The settled request count. */
  requestCount?: bigint | undefined;
  /**
   * The leaf indices whose signed `maxUnits` is enforced; all when absent. An attester enforces its sample's: an
   * over-bound leaf it was not sampled to check is the owner's to challenge (by index), and refusing the whole
   * transcript for it would have the attester declare unavailable data the server can post.
   */
  boundsCheckedAt?: ReadonlySet<bigint> | undefined;
}

/**
 * Audits a transcript against its stack: every request signed by `owner` for this stack under `domain`, no
 * signed request and no nonce twice, no leaf above its signed `maxUnits`, each nonce equal to its leaf index, running totals that add up from 0, and
 * (when given) the settled request count, units and root. Throws a named `InvalidTranscriptError` subclass for
 * the first rule broken; a node cannot pad, repeat or inflate what it settles.
 */
export async function verifyTranscript(
  transcript: InputsTranscript,
  expected: TranscriptExpectations,
): Promise<AuditedTranscript> {
  if (BigInt(transcript.stackId) !== expected.stackId)
    throw new InvalidTranscriptError("transcript is for another stack");
  if (
    BigInt(transcript.chainId) !== BigInt(expected.domain.chainId ?? -1) ||
    transcript.stacks.toLowerCase() !== String(expected.domain.verifyingContract).toLowerCase()
  )
    throw new InvalidTranscriptError("transcript is for another chain or stacks contract");
  if (expected.requestCount !== undefined && BigInt(transcript.requests.length) !== expected.requestCount)
    throw new InvalidTranscriptError(
      `transcript holds ${transcript.requests.length} requests, the settlement claims ${expected.requestCount}`,
    );
  const leaves = auditLeaves(transcript.requests, expected.boundsCheckedAt);
  await checkSignatures(transcript.requests, leaves, expected);
  const units = leaves.at(-1)?.cumulativeUnits ?? 0n;
  if (expected.units !== undefined && units !== expected.units)
    throw new RunningTotalError(
      `the leaves add up to ${units} units, the settlement claims ${expected.units}`,
    );
  const root = leaves.length === 0 ? undefined : stackRoot(leaves.map(leafHash));
  if (expected.root !== undefined && root !== undefined && root.toLowerCase() !== expected.root.toLowerCase())
    throw new TranscriptRootMismatchError("the transcript's leaves do not rebuild the settled root");
  return { reqHashes: leaves.map((leaf) => leaf.reqHash), leaves, root, units };
}

/** The leaves of the entries, checked for repeats, nonces and running totals (no signatures yet). */
function auditLeaves(
  entries: readonly TranscriptLeafEntry[],
  boundsCheckedAt: ReadonlySet<bigint> | undefined,
): StackLeaf[] {
  const signatures = new Map<string, number>();
  const nonces = new Map<string, number>();
  let total = 0n;
  return entries.map((entry, index) => {
    const seenSignature = signatures.get(entry.signature.toLowerCase());
    if (seenSignature !== undefined)
      throw new RepeatedRequestError(`request ${index} repeats the signed request of leaf ${seenSignature}`);
    signatures.set(entry.signature.toLowerCase(), index);
    const seenNonce = nonces.get(entry.nonce);
    if (seenNonce !== undefined)
      throw new RepeatedNonceError(`request ${index} repeats nonce ${entry.nonce} of leaf ${seenNonce}`);
    nonces.set(entry.nonce, index);
    if (BigInt(entry.nonce) !== BigInt(index))
      throw new NonceNotLeafIndexError(`request ${index} carries nonce ${entry.nonce}`);
    const units = BigInt(entry.units);
    if (units > BigInt(entry.max_units) && (boundsCheckedAt?.has(BigInt(index)) ?? true))
      throw new UnitsOverSignedError(
        `request ${index} claims ${units} units, its signed request allows ${entry.max_units}`,
      );
    total += units;
    if (BigInt(entry.cumulative_units) !== total)
      throw new RunningTotalError(
        `request ${index}: running total ${entry.cumulative_units}, the units add up to ${total}`,
      );
    return {
      leafIndex: BigInt(index),
      nonce: BigInt(entry.nonce),
      reqHash: requestHash(entry.body),
      respHash: entry.response_hash.toLowerCase() as Hash,
      units,
      cumulativeUnits: total,
    };
  });
}

async function checkSignatures(
  entries: readonly TranscriptLeafEntry[],
  leaves: readonly StackLeaf[],
  expected: TranscriptExpectations,
): Promise<void> {
  for (const [index, entry] of entries.entries()) {
    try {
      await assertRequestSigner(
        expected.domain,
        {
          stackId: expected.stackId,
          reqHash: leaves[index]!.reqHash,
          nonce: BigInt(entry.nonce),
          deadline: BigInt(entry.deadline),
          maxUnits: BigInt(entry.max_units),
        },
        entry.signature,
        expected.owner,
      );
    } catch (cause) {
      throw new InvalidTranscriptError(`request ${index} is not signed by the stack owner`, { cause });
    }
  }
}
