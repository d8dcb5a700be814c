import { describe, expect, it } from "vitest";
import { NodeCuts } from "../src/network/nodeCuts.js";

const NODE = 7n;
const LIMIT = 3;

/** A clock the test moves. */
function clock(start = 1_000_000) {
  const time = { now: start };
  return { time, now: () => time.now };
}

// Review 2 of h-gw, MEDIUM-C: cuts were a plain count, so one broken link to a busy node (six streams open, each
// resend answered 409 in flight) was six cuts at once, and the node left rotation for good.
describe("NodeCuts: cuts of a node's streams, as events and as a share of its streams", () => {
  it("counts one network blip that cuts many open streams as one cut, and never removes the node for it", () => {
    const { time, now } = clock();
    const cuts = new NodeCuts({ windowMs: 600_000, limit: LIMIT }, now);
    const begunAt = time.now;
    time.now += 5_000;
    const verdicts = Array.from({ length: 12 }, () => {
      time.now += 50;
      return cuts.record(NODE, begunAt);
    });
    expect(verdicts.filter((v) => v !== "none")).toEqual([]);
    expect(cuts.events(NODE)).toBe(1);
  });

  it("counts cuts of streams begun after the last cut, or well apart in time, one by one", () => {
    const { time, now } = clock();
    const cuts = new NodeCuts({ windowMs: 600_000, limit: LIMIT, burstMs: 2_000 }, now);
    // Begun after the last cut: the node cut a fresh stream again.
    time.now += 100;
    cuts.record(NODE, time.now - 50);
    time.now += 100;
    cuts.record(NODE, time.now - 50);
    // Begun before the last cut but cut well after it: another cut, not the same blip.
    const early = time.now - 10_000;
    time.now += 3_000;
    expect(cuts.record(NODE, early)).toBe("cool_down");
    expect(cuts.events(NODE)).toBe(3);
  });

  it("takes a node out of rotation only when it cuts, stream after stream, a large share of what it serves", () => {
    const { time, now } = clock();
    const cutter = new NodeCuts({ windowMs: 600_000, limit: LIMIT }, now);
    const verdicts = Array.from({ length: 2 * LIMIT }, () => {
      time.now += 1_000;
      return cutter.record(NODE, time.now - 500);
    });
    expect(verdicts).toEqual(["none", "none", "cool_down", "cool_down", "cool_down", "remove"]);

    // An honest busy node whose link breaks now and then: as many cuts, among hundreds of streams it answered.
    const busy = new NodeCuts({ windowMs: 600_000, limit: LIMIT }, now);
    const seen = Array.from({ length: 2 * LIMIT }, () => {
      for (let i = 0; i < 50; i++) busy.answered(NODE);
      time.now += 1_000;
      return busy.record(NODE, time.now - 500);
    });
    expect(seen).not.toContain("remove");
    expect(seen.at(-1)).toBe("cool_down");
  });

  it("forgets cuts and answers past the window", () => {
    const { time, now } = clock();
    const cuts = new NodeCuts({ windowMs: 10_000, limit: LIMIT }, now);
    for (let i = 0; i < LIMIT - 1; i++) {
      time.now += 3_000;
      cuts.record(NODE, time.now - 100);
    }
    time.now += 20_000;
    expect(cuts.record(NODE, time.now - 100)).toBe("none");
    expect(cuts.events(NODE)).toBe(1);
  });
});
