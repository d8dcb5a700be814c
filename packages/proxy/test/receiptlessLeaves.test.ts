import { describe, expect, it } from "vitest";
import { receiptlessLeaves, type SignedAt } from "../src/network/receiptlessLeaves.js";

const bounded =
  (bounds: Record<number, bigint>) =>
  (nonce: bigint): SignedAt =>
    bounds[Number(nonce)] ?? "unsigned";

describe("receiptlessLeaves (review fresh HIGH-1)", () => {
  it("plans every withheld leaf, earliest first, when the excess is over their signed bounds", () => {
    // Receipts up to leaf 1; leaves 2, 3 and 4 signed at 10 units each; 900,000 units claimed above the receipts.
    const plan = receiptlessLeaves(2n, 5n, 900_000n, 5n, bounded({ 0: 10n, 1: 10n, 2: 10n, 3: 10n, 4: 10n }));
    expect(plan).toEqual({ leaves: [2n, 3n, 4n], unsigned: false });
  });

  it("plans nothing when the excess is within the signed bounds (the node could prove each leaf)", () => {
    expect(receiptlessLeaves(2n, 4n, 20n, 4n, bounded({ 2: 10n, 3: 10n }))).toEqual({
      leaves: [],
      unsigned: false,
    });
  });

  it("plans the first leaf never signed alone", () => {
    expect(receiptlessLeaves(2n, 6n, 30n, 5n, bounded({ 2: 10n, 4: 10n }))).toEqual({
      leaves: [3n],
      unsigned: true,
    });
  });

  it("starts at leaf 0 without a receipt and stops past every nonce signed", () => {
    expect(receiptlessLeaves(0n, 9n, 1_000n, 2n, bounded({ 0: 10n, 1: 10n }))).toEqual({
      leaves: [2n],
      unsigned: true,
    });
    expect(receiptlessLeaves(0n, 2n, 1_000n, 2n, bounded({ 0: 10n, 1: 10n }))).toEqual({
      leaves: [0n, 1n],
      unsigned: false,
    });
  });

  it("plans nothing past the settled count or for a legacy stack signed without bounds", () => {
    expect(receiptlessLeaves(3n, 3n, 1_000n, 3n, bounded({}))).toEqual({ leaves: [], unsigned: false });
    expect(receiptlessLeaves(0n, 2n, 1_000n, 2n, () => "unbounded")).toEqual({ leaves: [], unsigned: false });
  });
});
