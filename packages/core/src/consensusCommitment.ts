import { concatHex, type Hex, keccak256, numberToHex } from "viem";
import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";

/** Largest committee of nodes one smart-contract request may name (the contracts bound n the same way). */
export const MAX_CONSENSUS_NODES = 32;

function checkIndex(index: number, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONSENSUS_NODES)
    throw new InvalidInputError(`n must be an integer in [1, ${MAX_CONSENSUS_NODES}], got ${n}`);
  if (!Number.isInteger(index) || index < 1 || index > n)
    throw new InvalidInputError(`node index must be an integer in [1, ${n}], got ${index}`);
}

/**
 * leaf_i = H(O ‖ uint256(i)) for the 1-based index i of a node among the n sampled for a smart-contract request
 * (whitepaper §2.6). Only a node that knows the output O can produce its own leaf, so copying another node's
 * commitment does not pass.
 */
export function consensusLeaf(output: Hex, index: number, n: number = MAX_CONSENSUS_NODES): Hash {
  checkIndex(index, n);
  return keccak256(concatHex([output, numberToHex(index, { size: 32 })]));
}

/** root = H(leaf_1 ‖ … ‖ leaf_n): every honest node commits the same root for the same output. */
export function consensusRoot(output: Hex, n: number): Hash {
  checkIndex(1, n);
  return keccak256(concatHex(Array.from({ length: n }, (_, k) => consensusLeaf(output, k + 1, n))));
}
