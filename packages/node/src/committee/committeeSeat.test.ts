import { readFileSync } from "node:fs";
import { isSelected } from "@atoma/core";
import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { evaluateCommitteeSeat } from "./committeeSeat.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../../core/vectors/vrfDispute.json", import.meta.url), "utf8"),
) as {
  blockHash: `0x${string}`;
  disputes: {
    disputeId: number;
    seed: `0x${string}`;
    proofs: { proof: `0x${string}`; beta: `0x${string}` }[];
  }[];
};
/** The vectors' key of node `nodeId` (as `vectorVrfKey` in @atoma/core writes them). */
const keyOf = (nodeId: number) => keccak256(toHex(`node-${nodeId - 1}`));

describe("a node's private evaluation of its dispute committee seat", () => {
  it("gives the shared vectors' seed and proof, and a seat exactly when the output is under N/n", () => {
    let seats = 0;
    let empty = 0;
    for (const dispute of vectors.disputes.slice(0, 3)) {
      for (const [i, expected] of dispute.proofs.slice(0, 4).entries()) {
        const seat = evaluateCommitteeSeat(keyOf(i + 1), {
          disputeId: BigInt(dispute.disputeId),
          armedBlockHash: vectors.blockHash,
          committeeSize: 3,
          candidateCount: 6,
        });
        expect(seat.seed).toBe(dispute.seed);
        const under = isSelected(expected.beta, { numerator: 3n, denominator: 6n });
        expect(seat.selected).toBe(under);
        if (seat.selected) {
          expect(seat.proof).toBe(expected.proof);
          seats += 1;
        } else empty += 1;
      }
    }
    expect(seats).toBeGreaterThan(0);
    expect(empty).toBeGreaterThan(0);
  });

  it("another dispute gives another seed, so a seat on one proves nothing on the other", () => {
    const at = (disputeId: bigint) =>
      evaluateCommitteeSeat(keyOf(1), {
        disputeId,
        armedBlockHash: vectors.blockHash,
        committeeSize: 7,
        candidateCount: 4,
      });
    const [one, two] = [at(1n), at(2n)];
    expect(one.selected && two.selected).toBe(true);
    if (one.selected && two.selected) expect(one.proof).not.toBe(two.proof);
    expect(one.seed).not.toBe(two.seed);
  });
});
