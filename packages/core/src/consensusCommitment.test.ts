import { concatHex, keccak256, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { consensusLeaf, consensusRoot } from "./consensusCommitment.js";

describe("consensus commitments", () => {
  const output = stringToHex("The answer is 42.");

  it("hashes the output with the node's 1-based index as a 32-byte word", () => {
    const expected = keccak256(concatHex([output, `0x${"0".repeat(63)}3`]));
    expect(consensusLeaf(output, 3, 5)).toBe(expected);
  });

  it("roots the n leaves in index order, and binds n", () => {
    const leaves = [1, 2, 3].map((i) => consensusLeaf(output, i, 3));
    expect(consensusRoot(output, 3)).toBe(keccak256(concatHex(leaves)));
    expect(consensusRoot(output, 3)).not.toBe(consensusRoot(output, 4));
    expect(consensusRoot(stringToHex("The answer is 43."), 3)).not.toBe(consensusRoot(output, 3));
  });

  it("handles the empty output", () => {
    expect(consensusLeaf("0x", 1, 1)).toBe(keccak256(`0x${"0".repeat(63)}1`));
  });

  it("rejects indices and sizes outside [1, n] and [1, 32]", () => {
    expect(() => consensusLeaf(output, 0, 3)).toThrow(/node index/);
    expect(() => consensusLeaf(output, 4, 3)).toThrow(/node index/);
    expect(() => consensusRoot(output, 0)).toThrow(/n must be/);
    expect(() => consensusRoot(output, 33)).toThrow(/n must be/);
  });
});
