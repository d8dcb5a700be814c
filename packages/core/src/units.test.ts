import { describe, expect, it } from "vitest";
import { InvalidInputError } from "./errors.js";
import { computeUnits, costOfUnits } from "./units.js";

describe("compute units", () => {
  it("counts input plus output tokens", () => {
    expect(computeUnits({ prompt_tokens: 100, completion_tokens: 200 })).toBe(300n);
    expect(computeUnits({ prompt_tokens: 7 })).toBe(7n);
  });

  it("prices per million units, rounding up", () => {
    expect(costOfUnits(1_000_000n, 3n)).toBe(3n);
    expect(costOfUnits(1n, 1n)).toBe(1n);
    expect(costOfUnits(0n, 9n)).toBe(0n);
  });

  it("rejects negative or fractional counts", () => {
    expect(() => computeUnits({ prompt_tokens: -1 })).toThrow(InvalidInputError);
    expect(() => computeUnits({ prompt_tokens: 1.5 })).toThrow(InvalidInputError);
    expect(() => costOfUnits(-1n, 1n)).toThrow(InvalidInputError);
  });
});
