import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MerkleTreeError } from "./errors.js";
import type { Hash } from "./hash.js";
import { LeafTree, merkleRoot, verifyMerkleProof } from "./merkle.js";

const leaves = (n: number): Hash[] => Array.from({ length: n }, (_, i) => keccak256(toHex(`leaf ${i}`)));

describe("LeafTree", () => {
  it("proves every leaf of trees of 1 to 33 leaves", () => {
    for (let n = 1; n <= 33; n++) {
      const values = leaves(n);
      const tree = new LeafTree(values);
      values.forEach((leaf, k) => {
        expect(verifyMerkleProof(tree.root, leaf, tree.proof(k))).toBe(true);
      });
    }
  });

  it("has the leaf itself as the root of a one-leaf tree", () => {
    const [only] = leaves(1);
    expect(merkleRoot([only!])).toBe(only);
  });

  it("rejects a proof for a leaf that is not in the tree", () => {
    const values = leaves(8);
    const tree = new LeafTree(values);
    expect(verifyMerkleProof(tree.root, keccak256(toHex("stranger")), tree.proof(3))).toBe(false);
    expect(verifyMerkleProof(tree.root, values[4]!, tree.proof(3))).toBe(false);
  });

  it("changes when leaves move between pairs (sorted-pair hashing ignores order within a pair)", () => {
    const [a, b, c, d] = leaves(4) as [Hash, Hash, Hash, Hash];
    expect(merkleRoot([a, c, b, d])).not.toBe(merkleRoot([a, b, c, d]));
    expect(merkleRoot([b, a, c, d])).toBe(merkleRoot([a, b, c, d]));
  });

  it("keeps duplicate leaves apart", () => {
    const [a, b] = leaves(2);
    const tree = new LeafTree([a!, b!, a!]);
    expect(verifyMerkleProof(tree.root, a!, tree.proof(2))).toBe(true);
    expect(tree.length).toBe(3);
  });

  it("refuses empty trees, malformed leaves and missing indices", () => {
    expect(() => new LeafTree([])).toThrow(MerkleTreeError);
    expect(() => new LeafTree(["0x1234"])).toThrow(MerkleTreeError);
    expect(() => new LeafTree(leaves(2)).proof(2)).toThrow(MerkleTreeError);
  });
});
