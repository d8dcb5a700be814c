import { describe, expect, it } from "vitest";
import { affordableChallenges } from "../src/network/challengeOrder.js";

// Review challenges LOW-3: short of bond money, the watcher opened the middle leaves in ascending order as far as
// its balance went; the node reads the balance on-chain and hides the excess in the highest leaf left out.
describe("which challenges go out when the bonds run short", () => {
  const wanted = ["receipt", "last", "m0", "m1", "m2", "m3", "m4", "m5"];

  it("opens all of them, in order, when every bond is paid", () => {
    expect(affordableChallenges(wanted, 2, wanted.length)).toEqual(wanted);
  });

  it("keeps the pinned ones first and draws the rest, so no leaf is reliably left out", () => {
    const left = new Map(wanted.slice(2).map((leaf) => [leaf, 0]));
    for (let run = 0; run < 200; run++) {
      const chosen = affordableChallenges(wanted, 2, 5);
      expect(chosen.slice(0, 2)).toEqual(["receipt", "last"]);
      expect(chosen).toHaveLength(5);
      expect(new Set(chosen).size).toBe(5);
      for (const leaf of left.keys()) if (!chosen.includes(leaf)) left.set(leaf, (left.get(leaf) ?? 0) + 1);
    }
    // Each of the six middle leaves is left out about half the time (3 of 6 drawn), never always nor never.
    for (const [leaf, times] of left) {
      expect(times, leaf).toBeGreaterThan(40);
      expect(times, leaf).toBeLessThan(160);
    }
  });

  it("opens nothing when not one bond is paid", () => {
    expect(affordableChallenges(wanted, 2, 0)).toEqual([]);
  });
});
