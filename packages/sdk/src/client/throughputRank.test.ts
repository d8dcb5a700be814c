import { describe, expect, it } from "vitest";
import { EXPLORE_SHARE, rankedByThroughput, throughputPick } from "./throughputRank.js";

const offers = [{ nodeId: 1n }, { nodeId: 2n }, { nodeId: 3n }, { nodeId: 4n }];
const ids = (ranked: { nodeId: bigint }[]) => ranked.map((o) => o.nodeId);

/** The numbers of a linear congruential generator in [0, 1): a fixed sequence, spread like `Math.random`'s. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("rankedByThroughput and throughputPick: a slow node measured first does not keep the owner", () => {
  it("ranks the unmeasured above a measured node under half the best figure, below those within it", () => {
    const figures = new Map([
      [1n, 10],
      [2n, 100],
      [3n, 60],
    ]);
    expect(ids(rankedByThroughput(offers, figures))).toEqual([2n, 3n, 4n, 1n]);
    expect(ids(rankedByThroughput(offers, figures, true))).toEqual([4n, 2n, 3n, 1n]);
    expect(ids(rankedByThroughput(offers, new Map()))).toEqual([1n, 2n, 3n, 4n]);
  });

  it("buys from a node not measured yet now and then, though the only node measured looks fine alone", () => {
    // Node 1 won the first draw and is slow; no other is measured, so nothing says it is slow.
    const figures = new Map([[1n, 10]]);
    const random = sequence(7);
    const picks = Array.from({ length: 1_000 }, () => throughputPick(offers, figures, random)!.nodeId);
    const explored = picks.filter((id) => id !== 1n);
    expect(explored.length).toBeGreaterThan(1_000 * EXPLORE_SHARE * 0.6);
    expect(explored.length).toBeLessThan(1_000 * EXPLORE_SHARE * 1.4);
    // Drawn among the unmeasured: each of them is tried.
    expect(new Set(explored)).toEqual(new Set([2n, 3n, 4n]));
    // Once one of them is measured far faster, the other unmeasured ones come before node 1 every time.
    figures.set(2n, 100);
    const after = Array.from({ length: 200 }, () => throughputPick(offers, figures, random)!.nodeId);
    expect(after).not.toContain(1n);
  });

  it("leaves the pick to the protocol's draw while no offered node is measured", () => {
    expect(throughputPick(offers, new Map(), () => 0)).toBeUndefined();
    expect(throughputPick(offers, new Map([[9n, 50]]), () => 0)).toBeUndefined();
  });
});
