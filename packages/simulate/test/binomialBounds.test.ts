import { describe, expect, it } from "vitest";
import { binomialAcceptance, binomialUpperTail } from "../src/statistics.js";

/** Exact P(X = k) for X ~ Binomial(n, p), by the product formula (small n only). */
function pmf(k: number, n: number, p: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c * p ** k * (1 - p) ** (n - k);
}

describe("exact binomial tails and acceptance intervals", () => {
  it("match a direct sum of the probabilities, and the tails outside the interval stay within alpha/2 a side", () => {
    for (const [n, p] of [
      [10, 0.3],
      [80, 0.79],
      [80, 0.066],
      [40, 0.5],
    ] as const) {
      for (let k = 0; k <= n; k++) {
        let direct = 0;
        for (let i = k; i <= n; i++) direct += pmf(i, n, p);
        expect(binomialUpperTail(k, n, p)).toBeCloseTo(direct, 12);
      }
      const alpha = 1e-4;
      const { low, high } = binomialAcceptance(n, p, alpha);
      // P(X < low) and P(X > high) are at most alpha/2; one step further in, they are not (the interval is tight).
      expect(1 - binomialUpperTail(low, n, p)).toBeLessThanOrEqual(alpha / 2);
      expect(binomialUpperTail(high + 1, n, p)).toBeLessThanOrEqual(alpha / 2);
      if (low > 0) expect(1 - binomialUpperTail(low + 1, n, p)).toBeGreaterThan(alpha / 2);
      if (high < n) expect(binomialUpperTail(high, n, p)).toBeGreaterThan(alpha / 2);
    }
  });

  it("a wrong rate lands outside the interval the right one accepts (the on-chain test's power)", () => {
    // Detection at p = 0.8 with q halved (a threshold off by two) against the right one's interval over 80 settlements.
    const right = binomialAcceptance(80, 1 - (1 - 0.8 * (2 / 7)) ** 6, 1e-4);
    const halved = 80 * (1 - (1 - 0.4 * (2 / 7)) ** 6);
    expect(halved).toBeLessThan(right.low);
  });
});
