import { describe, expect, it } from "vitest";
import { Mt19937 } from "./mersenneTwister.js";

describe("Mt19937", () => {
  it("matches std::mt19937: the 10000th output for the default seed is 4123659995", () => {
    const random = new Mt19937(5489);
    let last = 0;
    for (let i = 0; i < 10_000; i++) last = random.nextUint32();
    expect(last).toBe(4123659995);
  });

  it("draws canonical doubles in [0, 1) from two outputs, low word first", () => {
    const words = new Mt19937(42);
    const canonical = new Mt19937(42);
    for (let i = 0; i < 100; i++) {
      const low = words.nextUint32();
      const high = words.nextUint32();
      const value = canonical.nextCanonical();
      expect(value).toBe((low + high * 2 ** 32) / 2 ** 64);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });
});
