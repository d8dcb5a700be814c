import { type Hash, type SignedRequestFields, STACK_HEADERS, type TranscriptEntry } from "@atoma/core";
import type { Context } from "hono";
import type { Hex } from "viem";
import { InvalidMaxUnitsError, MissingAuthorizationError, RequestExpiredError } from "./errors.js";

/** The owner's authorisation of one request, as the `x-atoma-*` headers carry it. */
export interface RequestEnvelope {
  stackId: bigint;
  nonce: bigint;
  /** Unix seconds. */
  deadline: bigint;
  /** The most units the owner allows this request's leaf: generation is capped to it. */
  maxUnits: bigint;
  signature: Hex;
}

const UINT256 = /^(0|[1-9]\d{0,77})$/;
const UINT64 = /^(0|[1-9]\d{0,19})$/;
/** 65-byte ECDSA signature (r, s, v). */
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

function header(c: Context, name: string, pattern: RegExp, what: string): string {
  const value = c.req.header(name)?.trim();
  if (value === undefined || value === "") throw new MissingAuthorizationError(`header ${name} is missing`);
  if (!pattern.test(value)) throw new MissingAuthorizationError(`header ${name} must be ${what}`);
  return value;
}

/** Reads and shape-checks the authorisation headers; throws `MissingAuthorizationError` (401). */
export function readEnvelope(c: Context): RequestEnvelope {
  const stackId = BigInt(header(c, STACK_HEADERS.stack, UINT256, "a decimal stack id"));
  const nonce = BigInt(header(c, STACK_HEADERS.nonce, UINT256, "a decimal uint256"));
  const deadline = BigInt(header(c, STACK_HEADERS.deadline, UINT64, "decimal unix seconds"));
  if (deadline >= 1n << 64n)
    throw new MissingAuthorizationError(`header ${STACK_HEADERS.deadline} is too large`);
  const maxUnits = readMaxUnits(c);
  const signature = header(c, STACK_HEADERS.signature, SIGNATURE, "a 65-byte hex signature") as Hex;
  return { stackId, nonce, deadline, maxUnits, signature };
}

/** The signed unit bound; missing or malformed is `InvalidMaxUnitsError` (400), as it is the caller's to set. */
function readMaxUnits(c: Context): bigint {
  const name = STACK_HEADERS.maxUnits;
  const value = c.req.header(name)?.trim();
  if (value === undefined || value === "") throw new InvalidMaxUnitsError(`header ${name} is missing`);
  if (!UINT64.test(value) || BigInt(value) === 0n || BigInt(value) >= 1n << 64n)
    throw new InvalidMaxUnitsError(`header ${name} must be a decimal unit count from 1 to 2^64-1`);
  return BigInt(value);
}

/** A signed request is accepted from now until its deadline, which may lie at most `maxAheadSeconds` ahead. */
export function checkDeadline(envelope: RequestEnvelope, nowSeconds: bigint, maxAheadSeconds: number): void {
  if (envelope.deadline < nowSeconds)
    throw new RequestExpiredError("the signed request's deadline has passed");
  if (envelope.deadline > nowSeconds + BigInt(maxAheadSeconds))
    throw new RequestExpiredError(`the signed request's deadline is more than ${maxAheadSeconds} s ahead`);
}

/** The leaf's `request`: one inputs-transcript entry, so attesters can check the owner signed it. */
export function transcriptEntry(body: Record<string, unknown>, envelope: RequestEnvelope): TranscriptEntry {
  return {
    body,
    nonce: envelope.nonce.toString(),
    deadline: envelope.deadline.toString(),
    max_units: envelope.maxUnits.toString(),
    signature: envelope.signature,
  };
}

/** The `AtomaRequest` fields the owner signed. */
export function signedFields(envelope: RequestEnvelope, reqHash: Hash): SignedRequestFields {
  return {
    stackId: envelope.stackId,
    reqHash,
    nonce: envelope.nonce,
    deadline: envelope.deadline,
    maxUnits: envelope.maxUnits,
  };
}
