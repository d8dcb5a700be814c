import { describe, expect, it } from "vitest";
import { privateDrawOutcomes, publicDrawOutcomes } from "./attesterOutcomes.js";
import {
  expectedCheaterReward,
  expectedHonestReward,
  type GameParameters,
  ImpossibleParametersError,
  minimumReplicationRate,
} from "./replicationRate.js";
import {
  cheatPaysThreshold,
  compareSelection,
  expectedRewards,
  noAttesterProbability,
  privateDetectionProbability,
} from "./selectionThreshold.js";

const game: GameParameters = { reward: 1.2, cost: 1, collateral: 20, adversary: 0.3 };

/**
 * The cheater's and the honest party's expected reward under private selection, by enumerating every subset of
 * nodes that could select itself (nodes 0 … m − 1 are the cheater's and stay silent): written apart from
 * `expectedRewards` so that the two check each other.
 */
function bruteForceMargin(
  g: GameParameters,
  n: number,
  m: number,
  N: number,
  p: number,
  lazy = 0,
  lastMover = false,
): number {
  const { reward: R, cost: C, collateral: S } = g;
  const W1 = g.cheatUnchecked ?? R;
  const W2 = g.cheatColluding ?? 2 * R;
  const q = (p * N) / n;
  let margin = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let probability = 1;
    let selected = 0;
    let ours = 0;
    let diligent = 0;
    for (let node = 0; node < n; node++) {
      const on = (mask >> node) & 1;
      probability *= on ? q : 1 - q;
      selected += on;
      // Nodes 0 … m − 1 are the cheater's, the next `lazy` copy, the rest recompute.
      if (on && node < m) ours++;
      else if (on && node >= m + lazy) diligent++;
    }
    const honest = selected === 0 ? R - C : R - C + (ours * R) / selected;
    // The last mover: one of the cheater's selected nodes seats at the window's end when no honest node did.
    // Caught, it still takes its own attesters' pay when they seat beside the honest one and report.
    const cheater =
      diligent > 0 ? (lastMover ? (ours * R) / selected : 0) - C - S : lastMover && ours > 0 ? W2 : W1;
    margin += probability * (honest - cheater);
  }
  return margin;
}

describe("cheat-pays threshold with a random number of attesters", () => {
  it("reduces to Lemmas A.1, A.2 and Theorem A.3 for today's public draw on Appendix A's network", () => {
    for (const attesters of [1, 2, 4]) {
      const g = { ...game, attesters };
      for (const p of [0, 0.05, 0.3, 1]) {
        const rewards = expectedRewards(g, publicDrawOutcomes(p, attesters, g), "copy-when-all-ours");
        expect(rewards.honest).toBeCloseTo(expectedHonestReward(g, p), 12);
        expect(rewards.cheater).toBeCloseTo(expectedCheaterReward(g, p), 12);
      }
      const threshold = cheatPaysThreshold(
        g,
        (p) => publicDrawOutcomes(p, attesters, g),
        "copy-when-all-ours",
      );
      // The lemmas' margin is linear in p: (R − C − W1) + p·(W1 + (1 − rᴺ)(C + S) − rᴺ(W2 − R)).
      const { reward: R, cost: C, collateral: S, adversary: r } = g;
      const [W1, W2, all] = [R, 2 * R, r ** attesters];
      expect(threshold).toBeCloseTo((C + W1 - R) / (W1 + (1 - all) * (C + S) - all * (W2 - R)), 9);
      // Theorem A.3 as printed drops (1 − r)ᴺ·C from that slope, so it asks a little more.
      expect(minimumReplicationRate(g).theoremMinimum).toBeGreaterThanOrEqual(threshold);
    }
  });

  it.each([
    [6, 2, 1],
    [8, 3, 2],
    [9, 2, 3],
  ])("private p* on n = %i, m = %i, N = %i is where the brute-force margin crosses zero", (n, m, N) => {
    const g = { ...game, attesters: N };
    const threshold = cheatPaysThreshold(
      g,
      (p) => privateDrawOutcomes(p, N, { eligible: n, colluding: m }),
      "silent",
    );
    for (const p of [0.01, 0.2, 0.7])
      expect(
        expectedRewards(g, privateDrawOutcomes(p, N, { eligible: n, colluding: m }), "silent").honest,
      ).toBeCloseTo(
        expectedRewards(g, privateDrawOutcomes(p, N, { eligible: n, colluding: m }), "silent").cheater +
          bruteForceMargin(g, n, m, N, p),
        12,
      );
    expect(bruteForceMargin(g, n, m, N, threshold)).toBeCloseTo(0, 9);
    expect(bruteForceMargin(g, n, m, N, threshold * 0.99)).toBeLessThan(0);
    expect(bruteForceMargin(g, n, m, N, threshold * 1.01)).toBeGreaterThan(0);
  });

  it("a cheater who owns more of the eligible nodes (silent when selected) needs a higher rate to be deterred", () => {
    const thresholds = [0, 2, 4, 6].map((colluding) =>
      cheatPaysThreshold(game, (p) => privateDrawOutcomes(p, 1, { eligible: 10, colluding }), "silent"),
    );
    for (let i = 1; i < thresholds.length; i++) expect(thresholds[i]).toBeGreaterThan(thresholds[i - 1]!);
    // Owning 6 of 10 eligible nodes leaves the 4 honest ones: caught with 1 − (1 − p/10)⁴ ≈ 0.4·p.
    expect(privateDetectionProbability(0.1, 1, { eligible: 10, colluding: 6 })).toBeCloseTo(
      1 - 0.99 ** 4,
      12,
    );
  });

  it("lazy copiers raise p* to exactly where the brute-force margin with them crosses zero", () => {
    const [n, m, N, lazy] = [8, 2, 2, 2];
    const g = { ...game, attesters: N };
    const withLazy = cheatPaysThreshold(
      g,
      (p) => privateDrawOutcomes(p, N, { eligible: n, colluding: m, lazy }),
      "silent",
    );
    const without = cheatPaysThreshold(
      g,
      (p) => privateDrawOutcomes(p, N, { eligible: n, colluding: m }),
      "silent",
    );
    expect(withLazy).toBeGreaterThan(without);
    expect(bruteForceMargin(g, n, m, N, withLazy, lazy)).toBeCloseTo(0, 9);
    expect(bruteForceMargin(g, n, m, N, withLazy * 0.99, lazy)).toBeLessThan(0);
    expect(compareSelection(g, { eligible: n, colluding: m, lazy }).privateThreshold).toBeCloseTo(
      withLazy,
      12,
    );
  });

  it("a lazy attester (selected, copies instead of recomputing) checks nothing: detection as if it colluded", () => {
    const [n, m, p, N] = [10, 2, 0.2, 2];
    const lazy = 3;
    // Only diligent honest nodes catch a cheat; lazy ones echo the server, exactly as its own nodes would.
    const diligent = privateDetectionProbability(p, N, { eligible: n, colluding: m, lazy });
    expect(diligent).toBeCloseTo(privateDetectionProbability(p, N, { eligible: n, colluding: m + lazy }), 12);
    expect(diligent).toBeLessThan(privateDetectionProbability(p, N, { eligible: n, colluding: m }));
    expect(diligent).toBeCloseTo(1 - (1 - (p * N) / n) ** (n - m - lazy), 12);
    // Nor can it know whether it is alone: its copy stands beside a diligent attester's answer (and loses the
    // dispute) with the same probability, whatever it saw, because the others select themselves in private.
    const exposedWhenSelected = 1 - (1 - (p * N) / n) ** (n - m - lazy);
    expect(exposedWhenSelected).toBeCloseTo(diligent, 12);
  });

  it("prints the no-attester probability under its bound, and refuses settings where cheating always pays", () => {
    const comparison = compareSelection({ ...game, attesters: 3 }, { eligible: 10, colluding: 3 });
    expect(comparison.noAttesterProbability).toBeLessThanOrEqual(comparison.noAttesterBound);
    expect(comparison.noAttesterProbability).toBeCloseTo((1 - comparison.selectionProbability) ** 10, 12);
    // Equal attestation work per settlement (E[K] = pN) spread over more settlements: a lower rate suffices.
    expect(comparison.privateThreshold).toBeLessThan(comparison.publicThreshold);
    for (const n of [3, 10, 100, 1000]) {
      const { exact, bound } = noAttesterProbability(0.5, 3, n);
      expect(exact).toBeLessThanOrEqual(bound);
    }
    expect(() =>
      cheatPaysThreshold(
        { ...game, cheatUnchecked: 100 },
        (p) => privateDrawOutcomes(p, 1, { eligible: 4, colluding: 3 }),
        "silent",
      ),
    ).toThrow(ImpossibleParametersError);
  });

  it("a cheater whose node seats last when no honest one did (it sees seats on-chain) needs a higher rate: brute force agrees", () => {
    const g: GameParameters = { reward: 1.2, cost: 1, collateral: 20, adversary: 0.3 };
    for (const [n, m, N] of [
      [10, 3, 1],
      [10, 3, 2],
      [12, 5, 3],
    ] as const) {
      const outcomes = (p: number) => privateDrawOutcomes(p, N, { eligible: n, colluding: m });
      const silent = cheatPaysThreshold(g, outcomes, "silent", Math.min(1, n / N));
      const lastMover = cheatPaysThreshold(g, outcomes, "last-mover", Math.min(1, n / N));
      expect(lastMover).toBeGreaterThan(silent);
      // The crossing is where the enumeration over every selected subset turns positive.
      expect(bruteForceMargin(g, n, m, N, lastMover * 0.999, 0, true)).toBeLessThan(0);
      expect(bruteForceMargin(g, n, m, N, lastMover * 1.001, 0, true)).toBeGreaterThan(0);
      expect(
        compareSelection({ ...g, attesters: N }, { eligible: n, colluding: m }).privateThresholdLastMover,
      ).toBe(lastMover);
    }
  });

  it("a last mover gains nothing where its nodes are never selected, and is the silent figure with no colluders", () => {
    const outcomes = (p: number) => privateDrawOutcomes(p, 2, { eligible: 10, colluding: 0 });
    expect(cheatPaysThreshold(game, outcomes, "last-mover")).toBe(
      cheatPaysThreshold(game, outcomes, "silent"),
    );
  });
});
