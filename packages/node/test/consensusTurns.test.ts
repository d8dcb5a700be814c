import { describe, expect, it } from "vitest";
import { Turns } from "../src/consensus/turns.js";

describe("turns for the steps anyone may take", () => {
  it("lets rank 0 go at once and rank r after r grace periods from when the step was first seen", () => {
    let now = 1_000;
    const turns = new Turns(500, () => now);
    expect(turns.mine("deliver:1", 0)).toBe(true);
    expect(turns.mine("deliver:2", 2)).toBe(false);
    now += 999;
    expect(turns.mine("deliver:2", 2)).toBe(false);
    now += 1;
    expect(turns.mine("deliver:2", 2)).toBe(true);
    turns.retain(new Set(["deliver:1"]));
    expect(turns.mine("deliver:2", 1)).toBe(false); // forgotten: seen again from now
  });
});
