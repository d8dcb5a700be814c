import { describe, expect, it } from "vitest";
import { splitRefund } from "./splitRefund.js";

const sum = (shares: Map<string, bigint>) => [...shares.values()].reduce((a, b) => a + b, 0n);

describe("splitRefund", () => {
  it("splits in proportion to the charges, the floors' remainder by largest remainder, no unit created or lost", () => {
    // 10 over 1:1:1 → 3.33 each: one unit left, the remainders tie, and so do the charges: the smallest key id.
    const even = splitRefund(10n, [
      { keyId: "c", chargedWei: 5n },
      { keyId: "a", chargedWei: 5n },
      { keyId: "b", chargedWei: 5n },
    ]);
    expect(even).toEqual(
      new Map([
        ["a", 4n],
        ["b", 3n],
        ["c", 3n],
      ]),
    );
    // 100 over 1:2:4 → 14.28, 28.57, 57.14: floors 14, 28, 57 leave 1, to the largest remainder (b's .57).
    const uneven = splitRefund(100n, [
      { keyId: "a", chargedWei: 1n },
      { keyId: "b", chargedWei: 2n },
      { keyId: "c", chargedWei: 4n },
    ]);
    expect(uneven).toEqual(
      new Map([
        ["a", 14n],
        ["b", 29n],
        ["c", 57n],
      ]),
    );
    for (let amount = 0n; amount < 200n; amount += 7n) {
      const shares = splitRefund(amount, [
        { keyId: "x", chargedWei: 3n },
        { keyId: "y", chargedWei: 11n },
        { keyId: "z", chargedWei: 1n },
      ]);
      expect(sum(shares)).toBe(amount);
    }
  });

  it("gives a key charged one unit beside one charged a thousand its share, never the rest", () => {
    const shares = splitRefund(1_000_000n, [
      { keyId: "squatter", chargedWei: 1n },
      { keyId: "payer", chargedWei: 1_000n },
    ]);
    expect(shares.get("squatter")).toBe(999n);
    expect(shares.get("payer")).toBe(999_001n);
  });

  it("splits nothing among keys charged nothing, and nothing when there is nothing", () => {
    expect(splitRefund(50n, [{ keyId: "a", chargedWei: 0n }])).toEqual(new Map());
    expect(splitRefund(50n, [])).toEqual(new Map());
    expect(splitRefund(0n, [{ keyId: "a", chargedWei: 3n }])).toEqual(new Map());
  });
});
