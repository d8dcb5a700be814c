import { setTimeout as sleep } from "node:timers/promises";
import type { ConfidentialLease, ConfidentialUpstream } from "../../src/gateway/confidentialUpstream.js";

/**
 * A stand-in pool of level-3 stacks for the session limiter's tests (the real one needs a chain): each lease is a
 * new stack of node 1, optionally after `delayMs` (as the real one takes on the database and chain); `leased`
 * counts the stacks held.
 */
export function levelThreePool(
  options: { delayMs?: number } = {},
): ConfidentialUpstream & { leased: number } {
  let next = 0n;
  const pool = {
    leased: 0,
    async leaseConfidential(): Promise<ConfidentialLease> {
      if (options.delayMs) await sleep(options.delayMs);
      pool.leased++;
      next++;
      return {
        nodeId: 1n,
        nodeSigner: "0x0000000000000000000000000000000000000001",
        taskId: 3n,
        stackId: next,
        nonce: 0n,
        pricePerMillion: 1n,
      };
    },
    async releaseConfidential(): Promise<void> {
      pool.leased--;
    },
  };
  return pool as unknown as ConfidentialUpstream & { leased: number };
}
