import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../errors.js";
import type { EligibleSet } from "./attesterOutcomes.js";
import { mustCheckOdds, SELECTION_FALLBACKS } from "./selectionFallback.js";

/** A seeded stream (mulberry32), so the Monte Carlo below is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The cheater's settlement played out: every node selects itself with N/n; the cheater's own (nodes 0 … m − 1)
 * move last: silent when an honest node seated, otherwise min(A, N) of them seat with its answer; then the
 * fallback runs. Returns whether the cheater got away.
 */
function playOut(set: EligibleSet, N: number, fallback: string, next: () => number): boolean {
  for (;;) {
    const q = N / set.eligible;
    let honestSeated = false;
    let ours = 0;
    for (let node = 0; node < set.eligible; node++)
      if (next() < q) {
        if (node >= set.colluding) honestSeated = true;
        else ours++;
      }
    if (honestSeated) return false;
    if (fallback === "none") return true;
    const seated = Math.min(ours, N);
    if (fallback === "held-payment") {
      // Redrawn on later blocks until someone seats: its own seat is a seat.
      if (seated > 0) return true;
      continue;
    }
    if (fallback === "public-draw" && seated > 0) return true;
    // Public attesters up to N from the nodes not seated: it escapes only when all are its own.
    const pool = [...Array(set.eligible).keys()].slice(seated);
    for (let i = seated; i < N; i++) {
      const pick = pool.splice(Math.floor(next() * pool.length), 1)[0]!;
      if (pick >= set.colluding) return false;
    }
    return true;
  }
}

describe("the no-commit fallback of a settlement that must be checked", () => {
  // Windows in which the cheater could time its settlements: honest nodes drop out (unsubscribed, offline at the
  // seed block) while its own stay, so its share of the eligible set moves.
  const windows: EligibleSet[] = [
    { eligible: 20, colluding: 4 },
    { eligible: 12, colluding: 4 },
    { eligible: 8, colluding: 4 },
    { eligible: 6, colluding: 4 },
  ];
  const N = 3;

  it("a last-moving cheater escapes a fallback on nobody seated almost as if there were none; a top-up to N stops it", () => {
    const worstEscape = (fallback: (typeof SELECTION_FALLBACKS)[number]) =>
      Math.max(...windows.map((w) => mustCheckOdds(w, N, fallback).escape));
    // Its best window is the one with fewest honest nodes: (1 − 3/6)² = 1/4.
    expect(worstEscape("none")).toBeCloseTo(0.25, 12);
    // Fallback on nobody seated: it seats one of its own whenever one is selected, 1 − (1/2)⁴ = 15/16 of the time,
    // and otherwise needs all three public ones, C(4,3)/C(6,3) = 1/5.
    expect(worstEscape("public-draw")).toBeCloseTo(0.25 * (15 / 16 + (1 / 16) * 0.2), 12);
    // Top-up: with a seats of its own it needs the N − a public ones too, C(4 − a, 3 − a)/C(6 − a, 3 − a).
    const a = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];
    const topUp = a[0]! * 0.2 + a[1]! * (3 / 10) + a[2]! * (2 / 4) + (a[3]! + a[4]!) * 1;
    expect(worstEscape("public-top-up")).toBeCloseTo(0.25 * topUp, 12);
    expect(worstEscape("public-top-up")).toBeLessThan(worstEscape("public-draw"));
    // The review's case, n = 10, m = 3, N = 3: 5.4 % on a fallback when nobody seated, 0.54 % with the top-up
    // (a public draw of three alone: C(3,3)/C(10,3) = 0.83 %).
    const review = { eligible: 10, colluding: 3 };
    expect(mustCheckOdds(review, 3, "public-draw").escape).toBeCloseTo(0.0543, 4);
    expect(mustCheckOdds(review, 3, "public-top-up").escape).toBeCloseTo(0.005413, 5);
    // Even unfallen-back, the escape is bounded by e^(−N(n − m)/n) in every window: timing buys no more.
    for (const w of windows)
      expect(mustCheckOdds(w, N, "none").escape).toBeLessThanOrEqual(
        Math.exp((-N * (w.eligible - w.colluding)) / w.eligible),
      );
  });

  it("matches a seeded Monte Carlo of the same settlements within a 99.9 % binomial interval", () => {
    const next = seeded(16);
    const trials = 20_000;
    for (const fallback of SELECTION_FALLBACKS)
      for (const w of windows) {
        let escaped = 0;
        for (let t = 0; t < trials; t++) if (playOut(w, N, fallback, next)) escaped++;
        const expected = mustCheckOdds(w, N, fallback).escape;
        // Normal approximation to the binomial, z = 3.29 (two-sided 99.9 %), at the expected rate.
        const halfWidth = 3.29 * Math.sqrt((expected * (1 - expected)) / trials);
        expect(Math.abs(escaped / trials - expected)).toBeLessThanOrEqual(halfWidth);
      }
  });

  it("for an honest server the fallback fires with P(K = 0) = (1 − N/n)ⁿ ≤ e^(−N); held payments wait ≈ 1 draw", () => {
    for (const eligible of [3, 5, 10, 100, 10_000]) {
      const odds = mustCheckOdds({ eligible, colluding: 0 }, N, "held-payment");
      expect(odds.escape).toBe(0);
      expect(odds.noAttester).toBeCloseTo((1 - N / eligible) ** eligible, 12);
      expect(odds.noAttester).toBeLessThanOrEqual(odds.noAttesterBound);
      expect(odds.heldDraws).toBeLessThan(1 / (1 - Math.exp(-N)) + 1e-12);
    }
    expect(mustCheckOdds({ eligible: 10, colluding: 0 }, 3, "none").noAttesterBound).toBeCloseTo(0.0498, 4);
    expect(() => mustCheckOdds({ eligible: 3, colluding: 0 }, 4, "none")).toThrow(InvalidInputError);
  });
});
