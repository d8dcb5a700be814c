import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { LeafReadReplayedError, LeafReadsCrowdedError } from "./errors.js";
import { LeafReadGuard } from "./leafReadGuard.js";

const digest = (n: number) => keccak256(toHex(`read ${n}`));

function refusal(claim: () => void): unknown {
  try {
    claim();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("LeafReadGuard", () => {
  it("answers a read once while its deadline holds, and again once it passed (the route refuses it then)", () => {
    const guard = new LeafReadGuard();
    guard.claim(1n, digest(1), 100n, 50n);
    expect(() => guard.claim(1n, digest(1), 100n, 60n)).toThrow(LeafReadReplayedError);
    expect(() => guard.claim(1n, digest(1), 100n, 101n)).not.toThrow();
  });

  it("is bounded per stack: full of reads within their deadlines it refuses more (429, retry-after), and makes room as they pass", () => {
    const guard = new LeafReadGuard(2);
    guard.claim(1n, digest(1), 100n, 50n);
    guard.claim(1n, digest(2), 200n, 50n);
    const crowded = refusal(() => guard.claim(1n, digest(3), 300n, 99n));
    expect(crowded).toBeInstanceOf(LeafReadsCrowdedError);
    expect((crowded as LeafReadsCrowdedError).code).toBe("leaf_reads_crowded");
    // The earliest deadline (100) frees a room at 101: two seconds after 99.
    expect((crowded as LeafReadsCrowdedError).retryAfterSeconds).toBe(2);
    // Read 1's deadline passed: its room is taken, read 2 is still remembered.
    guard.claim(1n, digest(3), 300n, 101n);
    expect(() => guard.claim(1n, digest(2), 200n, 101n)).toThrow(LeafReadReplayedError);
  });

  it("keeps one owner that fills its own stack's rooms from crowding out another stack's reads", () => {
    const guard = new LeafReadGuard(16);
    // The owner of a cheap stack signs reads as fast as it can, deadlines far ahead.
    for (let n = 0; n < 16; n++) guard.claim(7n, digest(n), 400n, 100n);
    expect(refusal(() => guard.claim(7n, digest(99), 400n, 100n))).toBeInstanceOf(LeafReadsCrowdedError);
    // Another owner's read on its own stack is answered.
    expect(() => guard.claim(8n, digest(1000), 160n, 100n)).not.toThrow();
    // And the crowded stack forgets its reads once their deadlines pass, whole seconds at a time.
    expect(() => guard.claim(7n, digest(99), 500n, 401n)).not.toThrow();
    expect(() => guard.claim(7n, digest(0), 500n, 401n)).not.toThrow();
  });
});
