import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  disputeSelectionSeed,
  disputeSelectionThreshold,
  disputeSelectionWindow,
} from "./disputeSelection.js";
import { buildVrfDisputeVectors } from "./disputeSelectionVectorCases.js";
import { vrfVerify } from "./ecvrf.js";
import { settlementSelectionSeed } from "./selfSelection.js";
import { committeeSizeCap, committeeSortition, isSelected } from "./sortition.js";
import { buildVrfSelectionVectors } from "./vrfSelectionVectorCases.js";

describe("dispute committee self-selection vectors", () => {
  const committed = JSON.parse(
    readFileSync(new URL("../../vectors/vrfDispute.json", import.meta.url), "utf8"),
  );

  it("are what the current code produces (regenerate with npm run vectors:vrf -w @atoma/core)", () => {
    expect(buildVrfDisputeVectors()).toEqual(committed);
  });

  it("a proof verifies only under its own node's key and only on its own dispute's seed", () => {
    const keys = buildVrfSelectionVectors(3, 0).nodes;
    const vectors = buildVrfDisputeVectors(3, 2);
    const [first, second] = vectors.disputes;
    if (!first || !second) throw new Error("fixture");
    for (const [i, p] of first.proofs.entries()) {
      const own = keys[i];
      const other = keys[(i + 1) % keys.length];
      if (!own || !other) throw new Error("fixture");
      expect(vrfVerify(own.publicKey, first.seed, p.proof)).toBe(p.beta);
      expect(() => vrfVerify(other.publicKey, first.seed, p.proof)).toThrow();
      expect(() => vrfVerify(own.publicKey, second.seed, p.proof)).toThrow();
    }
  });

  it("a later round's window has its own seed: a proof made for round 0 does not verify on it, even on the same block hash", () => {
    const keys = buildVrfSelectionVectors(3, 0).nodes;
    const vectors = buildVrfDisputeVectors(3, 1);
    const [first] = vectors.disputes;
    const [round1] = vectors.rounds;
    if (!first || !round1) throw new Error("fixture");
    expect(disputeSelectionWindow(1n, 0)).toBe(1n);
    expect(BigInt(round1.window)).toBe(disputeSelectionWindow(1n, 1));
    const sameBlock = disputeSelectionSeed(1n, vectors.blockHash, 1);
    expect(sameBlock).not.toBe(first.seed);
    for (const [i, p] of first.proofs.entries()) {
      const own = keys[i];
      if (!own) throw new Error("fixture");
      expect(() => vrfVerify(own.publicKey, sameBlock, p.proof)).toThrow();
      expect(() => vrfVerify(own.publicKey, round1.seed, p.proof)).toThrow();
      expect(vrfVerify(own.publicKey, round1.seed, round1.proofs[i]?.proof ?? "0x")).toBe(
        round1.proofs[i]?.beta,
      );
    }
  });

  it("a dispute seed differs from the settlement seed of the same id and block", () => {
    const hash = buildVrfDisputeVectors(1, 0).blockHash;
    expect(disputeSelectionSeed(1n, hash)).not.toBe(settlementSelectionSeed(1n, hash));
  });

  it("threshold N/n, capped at 1 when the candidates are fewer than the committee", () => {
    expect(disputeSelectionThreshold({ committeeSize: 3, candidateCount: 6 })).toEqual({
      numerator: 3n,
      denominator: 6n,
    });
    expect(disputeSelectionThreshold({ committeeSize: 7, candidateCount: 4 })).toEqual({
      numerator: 4n,
      denominator: 4n,
    });
    const all = `0x${"ff".repeat(32)}` as const;
    expect(isSelected(all, disputeSelectionThreshold({ committeeSize: 7, candidateCount: 4 }))).toBe(true);
  });

  it("the size cap for N = 5 among 20 (ε = 1e-3) bounds the committee the majority rule runs over", () => {
    const cap = committeeSizeCap(committeeSortition(20, 5), 1e-3);
    expect(cap).toBeGreaterThanOrEqual(5);
    expect(cap).toBeLessThanOrEqual(15);
  });
});
