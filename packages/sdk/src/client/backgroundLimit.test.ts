import { describe, expect, it } from "vitest";
import { BackgroundLimit } from "./backgroundLimit.js";

describe("BackgroundLimit: work nothing waits for, bounded", () => {
  it("drops work past its limit while earlier work hangs, and takes more once some is done", async () => {
    const limit = new BackgroundLimit(2);
    const release: (() => void)[] = [];
    const hang = () => new Promise<void>((resolve) => release.push(resolve));
    expect(limit.run(hang)).toBe(true);
    expect(limit.run(hang)).toBe(true);
    expect(limit.run(hang)).toBe(false);
    expect(limit.pending).toBe(2);
    await expect.poll(() => release.length).toBe(2);
    release[0]!();
    await expect.poll(() => limit.pending).toBe(1);
    expect(limit.run(hang)).toBe(true);
  });

  it("swallows work that throws or rejects, and frees its place", async () => {
    const limit = new BackgroundLimit(1);
    expect(
      limit.run(() => {
        throw new Error("store down");
      }),
    ).toBe(true);
    await expect.poll(() => limit.pending).toBe(0);
    expect(limit.run(() => Promise.reject(new Error("store down")))).toBe(true);
    await expect.poll(() => limit.pending).toBe(0);
  });
});
