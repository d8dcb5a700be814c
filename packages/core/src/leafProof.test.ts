import { describe, expect, it } from "vitest";
import { parseLeafProof } from "./leafProof.js";
import { StackTree } from "./stackTree.js";

const hash = (byte: string) => `0x${byte.repeat(32)}` as const;
const tree = new StackTree([hash("01"), hash("02"), hash("03")]);
const proof = {
  object: "stack.leaf_proof",
  stack_id: "7",
  leaf_index: "1",
  leaf: {
    nonce: "1",
    request_hash: hash("aa"),
    response_hash: hash("bb"),
    units: "5",
    cumulative_units: "9",
  },
  leaf_hash: hash("02"),
  leaf_count: "3",
  root: tree.root,
  proof: tree.proof(1),
  settlement: { chain_id: 31337, settlement_manager: null, tx_hash: hash("cc") },
};

describe("parseLeafProof", () => {
  it("takes a proof as a node serves it", () => {
    expect(parseLeafProof(structuredClone(proof))).toEqual(proof);
  });

  it("refuses each malformed field by name, and a proof longer than any stack tree", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ object: "list" }, /object: stack.leaf_proof/],
      [{ stack_id: 7 }, /proof.stack_id/],
      [{ leaf_index: "-1" }, /proof.leaf_index/],
      [{ root: "0x12" }, /proof.root/],
      [{ leaf: { ...proof.leaf, units: 5 } }, /proof.leaf.units/],
      [{ leaf: { ...proof.leaf, request_hash: "0x" } }, /proof.leaf.request_hash/],
      [{ proof: Array(33).fill(hash("01")) }, /at most 32/],
      [{ proof: ["0x01"] }, /at most 32/],
      [{ settlement: { chain_id: "1", tx_hash: hash("cc") } }, /chain_id and tx_hash/],
    ];
    for (const [change, message] of bad)
      expect(() => parseLeafProof({ ...proof, ...change })).toThrow(message);
    expect(() => parseLeafProof(null)).toThrow(/stack.leaf_proof/);
  });
});
