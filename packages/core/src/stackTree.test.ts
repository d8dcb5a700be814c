import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MerkleTreeError } from "./errors.js";
import type { Hash } from "./hash.js";
import { EMPTY_LEAF, StackTree, stackProofLength, stackRoot, verifyStackProof } from "./stackTree.js";

const leaves = (n: number): Hash[] => Array.from({ length: n }, (_, i) => keccak256(toHex(`leaf ${i}`)));

describe("StackTree", () => {
  it("proves every leaf at its own index, with proofs log2(width) long, for 1 to 33 leaves", () => {
    for (let n = 1; n <= 33; n++) {
      const values = leaves(n);
      const tree = new StackTree(values);
      values.forEach((leaf, k) => {
        const proof = tree.proof(k);
        expect(proof).toHaveLength(stackProofLength(n));
        expect(verifyStackProof(tree.root, leaf, k, n, proof)).toBe(true);
      });
    }
  });

  it("has the leaf itself as the root of a one-leaf tree", () => {
    const [only] = leaves(1);
    expect(stackRoot([only!])).toBe(only);
    expect(new StackTree([only!]).proof(0)).toEqual([]);
  });

  it("does not prove a leaf at another index, even a swapped pair (no sorting)", () => {
    const values = leaves(4);
    const [a, b, c, d] = values as [Hash, Hash, Hash, Hash];
    const tree = new StackTree(values);
    expect(verifyStackProof(tree.root, b, 0, 4, tree.proof(1))).toBe(false);
    expect(verifyStackProof(tree.root, a, 1, 4, tree.proof(0))).toBe(false);
    expect(stackRoot([b, a, c, d])).not.toBe(tree.root);
  });

  it("refuses proofs of the wrong length and indices past the count (the padding)", () => {
    const values = leaves(5);
    const tree = new StackTree(values);
    const proof = tree.proof(4);
    expect(verifyStackProof(tree.root, values[4]!, 4, 5, proof.slice(1))).toBe(false);
    expect(verifyStackProof(tree.root, values[4]!, 4, 5, [...proof, EMPTY_LEAF])).toBe(false);
    // Position 5 holds padding: no count of 5 lets it be proved as a leaf.
    expect(verifyStackProof(tree.root, EMPTY_LEAF, 5, 5, proof)).toBe(false);
  });

  it("keeps duplicate leaves apart", () => {
    const [a, b] = leaves(2);
    const tree = new StackTree([a!, b!, a!]);
    expect(verifyStackProof(tree.root, a!, 2, 3, tree.proof(2))).toBe(true);
    expect(tree.length).toBe(3);
  });

  it("refuses empty trees, malformed leaves and missing indices", () => {
    expect(() => new StackTree([])).toThrow(MerkleTreeError);
    expect(() => new StackTree(["0x1234"])).toThrow(MerkleTreeError);
    expect(() => new StackTree(leaves(2)).proof(2)).toThrow(MerkleTreeError);
  });
});
