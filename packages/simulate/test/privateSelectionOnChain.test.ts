import { compareSelection, expectedRewards, privateDrawOutcomes } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { runPrivateSelectionOnChain } from "../src/privateSelectionOnChain.js";
import { validatePrivateSelectionOptions } from "../src/privateSelectionOptions.js";
import { binomialAcceptance, binomialUpperTail } from "../src/statistics.js";

// R = 1.2, C = 1, S = 2, the whole cost saved by cheating (W1 = 1.2); 8 nodes, r = 0.25: the server and one more
// node are the cheater's, 7 eligible (1 colluding, 6 diligent), N = 2. p* ≈ 0.147 private, 0.238 public.
const game = {
  nodes: 8,
  adversary: 0.25,
  attesters: 2,
  reward: 1.2,
  cost: 1,
  collateral: 2,
  saving: 1,
  cheatShare: 1,
};

/** The honest-minus-cheating margin by enumerating every subset of self-selected nodes (2ⁿ of them). */
function enumeratedMargin(p: number, eligible: number, colluding: number, attesters: number): number {
  const q = (p * attesters) / eligible;
  const { reward: R, cost: C, collateral: S } = game;
  const W1 = R - C + C * game.saving * game.cheatShare;
  let margin = 0;
  for (let mask = 0; mask < 1 << eligible; mask++) {
    let probability = 1;
    let ours = 0;
    let honest = 0;
    for (let i = 0; i < eligible; i++) {
      const selected = (mask >> i) & 1;
      probability *= selected ? q : 1 - q;
      if (!selected) continue;
      if (i < colluding) ours++;
      else honest++;
    }
    const all = ours + honest;
    const honestPay = R - C + (all > 0 ? (ours * R) / all : 0);
    margin += probability * (honestPay - (honest > 0 ? -C - S : W1));
  }
  return margin;
}

describe("the cheat-pays threshold with a random attester count", () => {
  it("matches an exact enumeration of the self-selected sets for small n", () => {
    for (const [eligible, colluding, attesters] of [
      [5, 1, 1],
      [7, 1, 2],
      [9, 3, 3],
    ] as const) {
      const W1 = game.reward - game.cost + game.cost;
      const parameters = { ...game, attesters, cheatUnchecked: W1 };
      for (const p of [0.05, 0.2, 0.6]) {
        const { honest, cheater } = expectedRewards(
          parameters,
          privateDrawOutcomes(p, attesters, { eligible, colluding }),
          "silent",
        );
        expect(honest - cheater).toBeCloseTo(enumeratedMargin(p, eligible, colluding, attesters), 12);
      }
      const { privateThreshold } = compareSelection(parameters, { eligible, colluding });
      // p* is where the enumerated margin turns positive.
      expect(enumeratedMargin(privateThreshold * 0.999, eligible, colluding, attesters)).toBeLessThan(0);
      expect(enumeratedMargin(privateThreshold * 1.001, eligible, colluding, attesters)).toBeGreaterThan(0);
    }
  });
});

describe("private self-selection through the contracts", () => {
  it("with last-mover colluders: the contract seats exactly the VRF-selected, detection and empty windows match their binomials, and the measured crossing is bracketed around p*", async () => {
    const settlements = 80;
    const rate = 0.8;
    const options = validatePrivateSelectionOptions({ ...game, settlements, seed: 3 });
    const result = await runPrivateSelectionOnChain({ ...options, rate, colluders: "last-mover" });
    const { eligible, colluding } = result;
    const diligent = eligible - colluding;
    const N = game.attesters;
    expect(result.disagreements).toBe(0);
    expect(colluding).toBe(1);
    expect(result.privateThreshold).toBeCloseTo(0.1474, 3);
    expect(result.privateThresholdLastMover).toBeGreaterThanOrEqual(result.privateThreshold);
    // The cheater's selected node seated last in some windows: P(never selected in 80) = (1 − 0.229)⁸⁰ < 10⁻⁹.
    expect(result.lastMoverSeats).toBeGreaterThan(0);
    expect(result.fallbacks).toBe(0);
    // Exact binomial bounds, each missed by a correct system with probability ≤ 10⁻⁴ (5·10⁻⁵ a side): the settlements
    // a diligent node seated on, P = 1 − (1 − pN/n)^(n−m), and the windows nobody seated in, P = (1 − pN/n)^n.
    const detection = (p: number) => 1 - (1 - (p * N) / eligible) ** diligent;
    const caught = binomialAcceptance(settlements, detection(rate), 1e-4);
    expect(result.caught.count).toBeGreaterThanOrEqual(caught.low);
    expect(result.caught.count).toBeLessThanOrEqual(caught.high);
    const empty = binomialAcceptance(settlements, (1 - (rate * N) / eligible) ** eligible, 1e-4);
    expect(result.noAttester).toBeGreaterThanOrEqual(empty.low);
    expect(result.noAttester).toBeLessThanOrEqual(empty.high);
    // With last movers a settlement's margin is −1 when no diligent node checks and 3.2 when one does (its share
    // cancels out), so the mean margin at rate p is ≥ 0 exactly when at least 80/4.2, i.e. 20, settlements are caught
    // there, and the caught count is monotone in p (the same outputs, a rising threshold). The measured crossing is
    // below `floor` only if 20 were caught at `floor`, and above `ceiling` only if fewer than 20 were at `ceiling`.
    for (const point of result.grid)
      expect(point.mean).toBeCloseTo(-1 + (4.2 * point.caught) / settlements, 9);
    const floor = 0.04;
    const ceiling = 0.36;
    expect(binomialUpperTail(20, settlements, detection(floor))).toBeLessThan(5e-5);
    expect(1 - binomialUpperTail(20, settlements, detection(ceiling))).toBeLessThan(5e-5);
    expect(result.privateThresholdLastMover).toBeGreaterThan(floor);
    expect(result.privateThresholdLastMover).toBeLessThan(ceiling);
    expect(result.crossings.lastMover!).toBeGreaterThanOrEqual(floor);
    expect(result.crossings.lastMover!).toBeLessThanOrEqual(ceiling);
    expect(result.measured.p).toBe(result.crossings.lastMover);
    // Silent colluders never do better for the cheater than last movers (pointwise on the same draws): their
    // crossing is no later.
    expect(result.crossings.silent!).toBeLessThanOrEqual(result.crossings.lastMover!);
    // The normal-approximation interval (z = 5, nominal miss 2.3·10⁻⁵) holds the last-mover p* and has an upper end
    // below the run rate.
    expect(result.within).toBe(true);
    expect(result.measured.high!).toBeLessThan(result.rate);
    expect(result.margin.expected).toBeGreaterThanOrEqual(result.margin.low);
    expect(result.margin.expected).toBeLessThanOrEqual(result.margin.high);
  }, 240_000);

  it("draws public attesters when fewer than N seated on a settlement that must be checked (p = 1)", async () => {
    // P(H < 2) = (5/7)⁶ + 6·(2/7)·(5/7)⁵ ≈ 0.45 per settlement: no fallback in 16 has probability 0.55¹⁶ < 10⁻⁴.
    const options = validatePrivateSelectionOptions({ ...game, settlements: 16, seed: 4 });
    const result = await runPrivateSelectionOnChain({ ...options, rate: 1, grid: 4 });
    expect(result.disagreements).toBe(0);
    expect(result.fallbacks).toBeGreaterThan(0);
    // The top-up seats N, so some settlement no honest node selected itself for is still caught.
    expect(result.caught.count).toBeGreaterThan(options.settlements - result.fallbacks);
  }, 120_000);
});
