import { concatHex, encodeAbiParameters, keccak256, numberToHex, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { CONSENSUS_REFUSAL, consensusLeaf, consensusRoot, consensusSeal } from "./consensusCommitment.js";

describe("consensus commitments", () => {
  const output = stringToHex("The answer is 42.");

  it("hashes the output, the units as 8 bytes and the node's 1-based index as a 32-byte word", () => {
    const expected = keccak256(
      concatHex([output, numberToHex(120n, { size: 8 }), numberToHex(3, { size: 32 })]),
    );
    expect(consensusLeaf(output, 120n, 3, 5)).toBe(expected);
  });

  it("roots the n leaves in index order, and binds n, the output and the units", () => {
    const leaves = [1, 2, 3].map((i) => consensusLeaf(output, 120n, i, 3));
    expect(consensusRoot(output, 120n, 3)).toBe(keccak256(concatHex(leaves)));
    expect(consensusRoot(output, 120n, 3)).not.toBe(consensusRoot(output, 120n, 4));
    expect(consensusRoot(stringToHex("The answer is 43."), 120n, 3)).not.toBe(consensusRoot(output, 120n, 3));
    expect(consensusRoot(output, 1n, 3)).not.toBe(consensusRoot(output, 120n, 3));
  });

  it("handles the empty output and zero units (a refusal's count)", () => {
    expect(consensusLeaf("0x", 0n, 1, 1)).toBe(
      keccak256(concatHex(["0x0000000000000000", numberToHex(1, { size: 32 })])),
    );
  });

  it("fixes the refusal output as the canonical invalid-request result", () => {
    expect(CONSENSUS_REFUSAL).toBe(stringToHex('{"object":"atoma.invalid_request"}'));
  });

  it("seals root and leaf under the request, the seat and a salt", () => {
    const root = consensusRoot(output, 120n, 3);
    const leaf = consensusLeaf(output, 120n, 2, 3);
    const salt = `0x${"ab".repeat(32)}` as const;
    const seal = consensusSeal({ requestId: 7n, index: 2, root, leaf, salt });
    expect(seal).toBe(
      keccak256(
        encodeAbiParameters(
          [
            { type: "uint256" },
            { type: "uint256" },
            { type: "bytes32" },
            { type: "bytes32" },
            { type: "bytes32" },
          ],
          [7n, 2n, root, leaf, salt],
        ),
      ),
    );
    expect(consensusSeal({ requestId: 7n, index: 3, root, leaf, salt })).not.toBe(seal);
    expect(consensusSeal({ requestId: 8n, index: 2, root, leaf, salt })).not.toBe(seal);
    expect(consensusSeal({ requestId: 7n, index: 2, root, leaf, salt: `0x${"cd".repeat(32)}` })).not.toBe(
      seal,
    );
  });

  it("rejects indices, sizes and unit counts out of range", () => {
    expect(() => consensusLeaf(output, 1n, 0, 3)).toThrow(/node index/);
    expect(() => consensusLeaf(output, 1n, 4, 3)).toThrow(/node index/);
    expect(() => consensusLeaf(output, -1n, 1, 3)).toThrow(/uint64/);
    expect(() => consensusLeaf(output, 2n ** 64n, 1, 3)).toThrow(/uint64/);
    expect(() => consensusRoot(output, 1n, 0)).toThrow(/n must be/);
    expect(() => consensusRoot(output, 1n, 33)).toThrow(/n must be/);
  });
});
