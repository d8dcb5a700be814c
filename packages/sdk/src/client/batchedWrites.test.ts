import { describe, expect, it } from "vitest";
import { BatchedWrites } from "./batchedWrites.js";

/** A write that hangs until released, each batch it was given kept. */
function hangingWrites() {
  const batches: number[][] = [];
  const release: (() => void)[] = [];
  const write = (batch: number[]) => {
    batches.push(batch);
    return new Promise<void>((resolve) => release.push(resolve));
  };
  return { batches, release, write };
}

describe("BatchedWrites: measurements nothing waits for, written in batches", () => {
  it("keeps what arrives while a write hangs (past 8, unlike a cap on writes) and writes it all in one more write", async () => {
    const { batches, release, write } = hangingWrites();
    const writes = new BatchedWrites(64, write);
    for (let i = 0; i < 20; i++) writes.add(i);
    await expect.poll(() => batches.length).toBe(1);
    expect(batches[0]).toEqual([0]);
    expect(writes.pending).toBe(19);
    release[0]!();
    await expect.poll(() => batches.length).toBe(2);
    expect(batches[1]).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    release[1]!();
    await expect.poll(() => writes.pending).toBe(0);
  });

  it("holds at most `limit` waiting, the most recent, however long a write hangs", async () => {
    const { batches, release, write } = hangingWrites();
    const writes = new BatchedWrites(4, write);
    for (let i = 0; i < 100; i++) writes.add(i);
    expect(writes.pending).toBe(4);
    await expect.poll(() => batches.length).toBe(1);
    release[0]!();
    await expect.poll(() => batches.length).toBe(2);
    expect(batches[1]).toEqual([96, 97, 98, 99]);
  });

  it("swallows a write that throws or rejects, and writes what comes next", async () => {
    const batches: number[][] = [];
    let failures = 0;
    const writes = new BatchedWrites<number>(8, (batch) => {
      failures += 1;
      if (failures === 1) throw new Error("store down");
      if (failures === 2) return Promise.reject(new Error("store down"));
      batches.push(batch);
      return Promise.resolve();
    });
    writes.add(1);
    await expect.poll(() => failures).toBe(1);
    writes.add(2);
    await expect.poll(() => failures).toBe(2);
    writes.add(3);
    await expect.poll(() => batches).toEqual([[3]]);
  });
});
