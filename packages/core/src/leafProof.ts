import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";

/**
 * What `GET /v1/stacks/{id}/proof/{leaf}` answers: one leaf of a settled stack, its `StackTree` inclusion proof
 * under the root the node posted on-chain, and where that settlement is. uint values are decimal strings.
 */
export interface LeafProof {
  object: "stack.leaf_proof";
  stack_id: string;
  leaf_index: string;
  /** The leaf's fields, as `leafHash` encodes them. */
  leaf: {
    nonce: string;
    request_hash: Hash;
    response_hash: Hash;
    units: string;
    cumulative_units: string;
  };
  leaf_hash: Hash;
  /** Leaves under the root (the settlement's request count): fixes the proof's length. */
  leaf_count: string;
  root: Hash;
  /** Siblings from the bottom up (`StackTree.proof`). */
  proof: Hash[];
  /** The settlement on-chain: the transaction that posted the root, on which chain and contract. */
  settlement: { chain_id: number; settlement_manager: string | null; tx_hash: Hash };
}

const isDecimal = (v: unknown): v is string => typeof v === "string" && /^(0|[1-9]\d{0,77})$/.test(v);
const isHash = (v: unknown): v is Hash => typeof v === "string" && /^0x[0-9a-fA-F]{64}$/.test(v);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The most siblings a proof may have: the tree of `MAX_STACK_LEAVES` leaves is 32 levels deep. */
const MAX_PROOF_LENGTH = 32;

/** Shape-checks a leaf proof as a node sent it; throws `InvalidInputError` naming the bad field. */
export function parseLeafProof(value: unknown): LeafProof {
  if (!isRecord(value) || value.object !== "stack.leaf_proof")
    throw new InvalidInputError("a leaf proof is an object with object: stack.leaf_proof");
  for (const key of ["stack_id", "leaf_index", "leaf_count"])
    if (!isDecimal(value[key])) throw new InvalidInputError(`proof.${key} must be a decimal string`);
  for (const key of ["leaf_hash", "root"])
    if (!isHash(value[key])) throw new InvalidInputError(`proof.${key} must be a 32-byte hex hash`);
  const { leaf, proof, settlement } = value;
  if (!isRecord(leaf)) throw new InvalidInputError("proof.leaf must be an object");
  for (const key of ["nonce", "units", "cumulative_units"])
    if (!isDecimal(leaf[key])) throw new InvalidInputError(`proof.leaf.${key} must be a decimal string`);
  for (const key of ["request_hash", "response_hash"])
    if (!isHash(leaf[key])) throw new InvalidInputError(`proof.leaf.${key} must be a 32-byte hex hash`);
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH || !proof.every(isHash))
    throw new InvalidInputError(`proof.proof must be at most ${MAX_PROOF_LENGTH} 32-byte hashes`);
  if (!isRecord(settlement) || !isHash(settlement.tx_hash) || !Number.isSafeInteger(settlement.chain_id))
    throw new InvalidInputError("proof.settlement must name chain_id and tx_hash");
  return value as unknown as LeafProof;
}
