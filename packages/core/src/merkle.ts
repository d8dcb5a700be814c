import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { isHex } from "viem";
import { MerkleTreeError } from "./errors.js";
import type { Hash } from "./hash.js";

/**
 * A Merkle tree over 32-byte leaves with sorted-pair keccak hashing, so OpenZeppelin's `MerkleProof.verify`
 * accepts its proofs on-chain. Leaves keep their order: proof(k) is the proof for the k-th leaf given. Model
 * weights use it; a stack's leaves use the positional `StackTree`, where a proof also pins the leaf's index.
 */
export class LeafTree {
  readonly #tree: SimpleMerkleTree;

  constructor(leaves: readonly Hash[]) {
    if (leaves.length === 0) throw new MerkleTreeError("a Merkle tree needs at least one leaf");
    for (const [index, leaf] of leaves.entries()) {
      if (!isHex(leaf) || leaf.length !== 66)
        throw new MerkleTreeError(`leaf ${index} is not 32 bytes of hex`);
    }
    this.#tree = SimpleMerkleTree.of([...leaves], { sortLeaves: false });
  }

  get root(): Hash {
    return this.#tree.root as Hash;
  }

  get length(): number {
    return this.#tree.length;
  }

  proof(index: number): Hash[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.#tree.length)
      throw new MerkleTreeError(`no leaf at index ${index} (tree has ${this.#tree.length})`);
    return this.#tree.getProof(index) as Hash[];
  }
}

/** Verifies a proof the way OpenZeppelin's `MerkleProof.verify` does. */
export function verifyMerkleProof(root: Hash, leaf: Hash, proof: readonly Hash[]): boolean {
  return SimpleMerkleTree.verify(root, leaf, [...proof]);
}

/** The root of `leaves` in order. */
export function merkleRoot(leaves: readonly Hash[]): Hash {
  return new LeafTree(leaves).root;
}
