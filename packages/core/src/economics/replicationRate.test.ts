import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../errors.js";
import {
  expectedCheaterReward,
  expectedHonestReward,
  ImpossibleParametersError,
  minimumReplicationRate,
  tamperedSettlementProbability,
} from "./replicationRate.js";

const whitepaper = { reward: 1.2, cost: 1, collateral: 250, adversary: 0.5 };

describe("minimum replication rate", () => {
  it("reproduces the whitepaper's p ≈ 0.00796 for R = 1.2C, r = 0.5, S = 250C", () => {
    const { corollaryMinimum, theoremMinimum } = minimumReplicationRate(whitepaper);
    expect(corollaryMinimum).toBeCloseTo(0.00796, 5);
    // With N = 1, W1 = R and W2 = 2R the theorem reduces exactly to the corollary.
    expect(theoremMinimum).toBeCloseTo(corollaryMinimum, 12);
  });

  it("needs a lower rate with more attesters, since a cheater must own all of them", () => {
    const one = minimumReplicationRate(whitepaper).theoremMinimum;
    const three = minimumReplicationRate({ ...whitepaper, attesters: 3 }).theoremMinimum;
    expect(three).toBeLessThan(one);
  });

  it("makes honesty pay from the theorem's rate on, by the lemmas' expected rewards", () => {
    for (const attesters of [1, 2, 5]) {
      const game = { ...whitepaper, attesters };
      const p = minimumReplicationRate(game).theoremMinimum;
      expect(expectedHonestReward(game, p * 1.01)).toBeGreaterThan(expectedCheaterReward(game, p * 1.01));
      expect(expectedHonestReward(game, p * 0.5)).toBeLessThan(expectedCheaterReward(game, p * 0.5));
    }
  });

  it("asks for nothing when cheating cannot beat the honest reward", () => {
    expect(minimumReplicationRate({ ...whitepaper, cheatUnchecked: 0.1 }).theoremMinimum).toBe(0);
  });

  it.each([
    ["a reward not above cost", { ...whitepaper, reward: 1 }, ImpossibleParametersError],
    ["an adversary share of 1", { ...whitepaper, adversary: 1 }, InvalidInputError],
    ["negative collateral", { ...whitepaper, collateral: -5 }, InvalidInputError],
    ["fractional attesters", { ...whitepaper, attesters: 1.5 }, InvalidInputError],
    [
      "collateral too small to deter",
      { ...whitepaper, collateral: 0.001, cheatUnchecked: 50 },
      ImpossibleParametersError,
    ],
  ])("rejects %s", (_, game, errorClass) => {
    expect(() => minimumReplicationRate(game)).toThrow(errorClass);
  });
});

describe("n-node consensus", () => {
  it("gives M = 0.5¹⁰ ≈ 0.00098", () => {
    expect(tamperedSettlementProbability(0.5, 10)).toBeCloseTo(0.0009765625, 12);
  });

  it("rejects impossible inputs", () => {
    expect(() => tamperedSettlementProbability(0, 10)).toThrow(InvalidInputError);
    expect(() => tamperedSettlementProbability(0.5, 0)).toThrow(InvalidInputError);
  });
});
