import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { vrfEvaluate, vrfProve, vrfPublicKey, vrfVerify } from "./ecvrf.js";
import { SortitionParametersError } from "./errors.js";
import {
  attesterSortition,
  committeeSizeCap,
  committeeSortition,
  isSelected,
  noSelectionBound,
  noSelectionProbability,
  selectionCountProbability,
  sortitionSeed,
} from "./sortition.js";

const keys = (count: number) => Array.from({ length: count }, (_, i) => keccak256(toHex(`node-${i}`)));

describe("sortition thresholds", () => {
  it("match the expected attester count p·N and the committee size", () => {
    const draw = attesterSortition(50, 0.1, 3);
    expect(draw.expected).toBeCloseTo(0.3, 12);
    expect(draw.probability).toBeCloseTo(0.006, 12);
    const mean = Array.from({ length: 51 }, (_, k) => k * selectionCountProbability(draw, k)).reduce(
      (a, b) => a + b,
    );
    expect(mean).toBeCloseTo(0.3, 9);
    expect(committeeSortition(20, 5).probability).toBe(0.25);
  });

  it("state the exact no-attester probability and keep it under e^(−expected)", () => {
    const draw = committeeSortition(10, 2);
    expect(noSelectionProbability(draw)).toBeCloseTo(0.8 ** 10, 12);
    for (const [n, size] of [
      [3, 1],
      [10, 3],
      [100, 5],
      [1000, 8],
    ] as const) {
      const d = committeeSortition(n, size);
      expect(noSelectionProbability(d)).toBeLessThanOrEqual(noSelectionBound(d));
      expect(noSelectionBound(d)).toBeCloseTo(Math.exp(-size), 9);
    }
    expect(noSelectionProbability(committeeSortition(4, 4))).toBe(0);
  });

  it("caps a dispute committee so more than the cap self-select with probability ≤ ε", () => {
    const draw = committeeSortition(200, 7);
    const cap = committeeSizeCap(draw, 1e-6);
    let tail = 0;
    for (let k = cap + 1; k <= 200; ++k) tail += selectionCountProbability(draw, k);
    expect(tail).toBeLessThanOrEqual(1e-6);
    let tailBelow = 0;
    for (let k = cap; k <= 200; ++k) tailBelow += selectionCountProbability(draw, k);
    expect(tailBelow).toBeGreaterThan(1e-6);
  });

  it("refuses parameters no threshold can meet", () => {
    expect(() => attesterSortition(0, 0.1, 3)).toThrow(SortitionParametersError);
    expect(() => attesterSortition(10, 0, 3)).toThrow(SortitionParametersError);
    expect(() => attesterSortition(10, 1.5, 3)).toThrow(SortitionParametersError);
    expect(() => committeeSortition(3, 4)).toThrow(SortitionParametersError);
    expect(() => committeeSizeCap(committeeSortition(3, 1), 0)).toThrow(SortitionParametersError);
  });
});

describe("sortition attacks", () => {
  const seed = sortitionSeed(keccak256(toHex("settlement-1")), keccak256(toHex("block-9")), "attest");

  it("a node that was not selected cannot claim a seat: its only provable output is above the threshold", () => {
    const draw = committeeSortition(10, 2);
    const loser = keys(40).find((key) => !isSelected(vrfEvaluate(key, seed), draw));
    if (!loser) throw new Error("every node selected");
    const proof = vrfProve(loser, seed);
    expect(isSelected(vrfVerify(vrfPublicKey(loser), seed, proof), draw)).toBe(false);
    // Another seed might select it, but the seed is bound to the settlement and a block it could not choose.
    expect(sortitionSeed(keccak256(toHex("settlement-1")), keccak256(toHex("block-10")), "attest")).not.toBe(
      seed,
    );
    expect(sortitionSeed(keccak256(toHex("settlement-1")), keccak256(toHex("block-9")), "dispute")).not.toBe(
      seed,
    );
  });

  it("measured over many seeds with the real VRF, the no-attester rate is the exact one and under the bound", () => {
    const draw = committeeSortition(10, 2);
    const nodes = keys(10);
    const settlements = 300;
    let empty = 0;
    for (let i = 0; i < settlements; ++i) {
      const s = sortitionSeed(
        keccak256(toHex(`settlement-${i}`)),
        keccak256(toHex(`block-${i + 3}`)),
        "attest",
      );
      if (!nodes.some((key) => isSelected(vrfEvaluate(key, s), draw))) ++empty;
    }
    const exact = noSelectionProbability(draw);
    const sigma = Math.sqrt((exact * (1 - exact)) / settlements);
    expect(Math.abs(empty / settlements - exact)).toBeLessThan(4 * sigma);
    expect(exact).toBeLessThanOrEqual(noSelectionBound(draw));
  }, 120_000);
});
