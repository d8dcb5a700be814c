import { encodeAbiParameters, keccak256 } from "viem";
import type { SignedResponseFields } from "./eip712.js";
import type { Hash } from "./hash.js";

/** What one leaf of a stack's tree commits to: the request's position, nonce and hash, its answer and its units. */
export interface StackLeaf {
  leafIndex: bigint;
  /** The owner's nonce of the request; a valid leaf has `nonce === leafIndex`. */
  nonce: bigint;
  reqHash: Hash;
  respHash: Hash;
  units: bigint;
  /** The stack's units after this request: the previous leaf's plus `units` (just `units` for leaf 0). */
  cumulativeUnits: bigint;
}

const LEAF_ABI = [
  { type: "uint256" },
  { type: "uint256" },
  { type: "bytes32" },
  { type: "bytes32" },
  { type: "uint64" },
  { type: "uint64" },
] as const;

/**
 * leaf = H(abi.encode(uint256 leafIndex, uint256 nonce, bytes32 reqHash, bytes32 respHash, uint64 units,
 * uint64 cumulativeUnits)), as `AtomaTypedData.leafHash` rebuilds it on-chain.
 */
export function leafHash(leaf: StackLeaf): Hash {
  return keccak256(
    encodeAbiParameters(LEAF_ABI, [
      leaf.leafIndex,
      leaf.nonce,
      leaf.reqHash,
      leaf.respHash,
      leaf.units,
      leaf.cumulativeUnits,
    ]),
  );
}

/** The leaf a signed response stands for. */
export function leafOf(fields: SignedResponseFields): StackLeaf {
  return {
    leafIndex: fields.leafIndex,
    nonce: fields.nonce,
    reqHash: fields.reqHash,
    respHash: fields.respHash,
    units: fields.units,
    cumulativeUnits: fields.cumulativeUnits,
  };
}
