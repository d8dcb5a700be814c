import { describe, expect, it } from "vitest";
import { selfDealingBound } from "./selfDealing.js";

describe("selfDealingBound", () => {
  it("gives nothing to a self-dealer at the defaults and at the bounds (emission per burn at most 1×)", () => {
    const defaults = selfDealingBound({ burn: 0.05, emissionPerBurn: 1, stakeYield: 0.01 });
    expect(defaults.bestSplit).toBeCloseTo(1 / 6, 12);
    expect(defaults.bestGain).toBe(0);
    const worst = selfDealingBound({ burn: 0.5, emissionPerBurn: 1, stakeYield: 0.1 });
    expect(worst.bestGain).toBe(0);
    expect(worst.shareOfHonest).toBe(0);
  });

  it("gives the best split and what it earns against an honest staker above 1× (the bound the contracts refuse)", () => {
    const above = selfDealingBound({ burn: 0.05, emissionPerBurn: 2, stakeYield: 0.01 });
    expect(above.bestSplit).toBeCloseTo(1 / 11, 12);
    expect(above.shareOfHonest).toBeCloseTo(0.05 / 0.11, 12);
    const far = selfDealingBound({ burn: 0.5, emissionPerBurn: 4, stakeYield: 0.1 });
    expect(far.bestGain).toBeCloseTo((0.1 * (3 * 0.5)) / (2 + 0.1), 12);
    expect(far.shareOfHonest).toBeLessThan(3 / 4);
  });

  it("stays below (m − 1)/m however small the yield, and is nothing when emission per burn is at most 1", () => {
    for (const stakeYield of [1e-6, 1e-3, 0.1])
      expect(selfDealingBound({ burn: 0.5, emissionPerBurn: 4, stakeYield }).shareOfHonest).toBeLessThan(
        0.75,
      );
    expect(selfDealingBound({ burn: 0.3, emissionPerBurn: 1, stakeYield: 0.05 }).bestGain).toBe(0);
    expect(() => selfDealingBound({ burn: -1, emissionPerBurn: 2, stakeYield: 0.01 })).toThrow(/burn/);
  });
});
