import { type Hex, isHex } from "viem";
import type { SignedResponseFields } from "./eip712.js";
import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";

/**
 * HTTP headers that carry the stack owner's EIP-712 authorisation of one request (`AtomaRequest` over
 * `(stackId, requestHash(body), nonce, deadline, maxUnits)`). The body travels unchanged, so any OpenAI client works.
 * `nextNonce` comes back on a `409 nonce_out_of_order` or `nonce_reused`: the nonce (leaf index) the stack takes next.
 * `salt` (with `deadline` and `signature`) carries the owner's `AtomaLeafRead` of a leaf read (`leafRead.ts`).
 */
export const STACK_HEADERS = Object.freeze({
  stack: "x-atoma-stack",
  nonce: "x-atoma-nonce",
  deadline: "x-atoma-deadline",
  maxUnits: "x-atoma-max-units",
  signature: "x-atoma-signature",
  salt: "x-atoma-salt",
  nextNonce: "x-atoma-next-nonce",
});

/**
 * The `atoma` object of every successful response (the final SSE event's, when streaming): the node's signed
 * `AtomaResponse` fields and its signature. uint values are decimal strings (ids may exceed 2^53).
 */
export interface AtomaReceipt {
  node_id: string;
  stack_id: string;
  request_hash: Hash;
  response_hash: Hash;
  leaf_index: string;
  /** The nonce of the request answered: equal to `leaf_index`. */
  nonce: string;
  seed: string;
  units: string;
  cumulative_units: string;
  /** The node's EIP-712 signature over the `AtomaResponse` fields. */
  signature: Hex;
}

export function toReceipt(nodeId: bigint, fields: SignedResponseFields, signature: Hex): AtomaReceipt {
  return {
    node_id: nodeId.toString(),
    stack_id: fields.stackId.toString(),
    request_hash: fields.reqHash,
    response_hash: fields.respHash,
    leaf_index: fields.leafIndex.toString(),
    nonce: fields.nonce.toString(),
    seed: fields.seed.toString(),
    units: fields.units.toString(),
    cumulative_units: fields.cumulativeUnits.toString(),
    signature,
  };
}

const isDecimal = (v: unknown): v is string => typeof v === "string" && /^(0|[1-9]\d{0,77})$/.test(v);
const isHash = (v: unknown): v is Hash => typeof v === "string" && /^0x[0-9a-fA-F]{64}$/.test(v);

/** Shape-checks a received `atoma` object; throws `InvalidInputError` naming the bad field. */
export function parseReceipt(value: unknown): AtomaReceipt & { fields: SignedResponseFields } {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidInputError("the atoma object is missing");
  const r = value as Record<string, unknown>;
  for (const key of ["node_id", "stack_id", "leaf_index", "nonce", "seed", "units", "cumulative_units"])
    if (!isDecimal(r[key])) throw new InvalidInputError(`atoma.${key} must be a decimal string`);
  for (const key of ["request_hash", "response_hash"])
    if (!isHash(r[key])) throw new InvalidInputError(`atoma.${key} must be a 32-byte hex hash`);
  if (typeof r.signature !== "string" || !isHex(r.signature))
    throw new InvalidInputError("atoma.signature must be hex");
  const receipt = r as unknown as AtomaReceipt;
  return {
    ...receipt,
    fields: {
      stackId: BigInt(receipt.stack_id),
      leafIndex: BigInt(receipt.leaf_index),
      nonce: BigInt(receipt.nonce),
      reqHash: receipt.request_hash,
      respHash: receipt.response_hash,
      units: BigInt(receipt.units),
      cumulativeUnits: BigInt(receipt.cumulative_units),
      seed: BigInt(receipt.seed),
    },
  };
}
