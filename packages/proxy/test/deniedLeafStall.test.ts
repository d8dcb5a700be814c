import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getNode } from "@atoma/chain";
import { createPublicClient, http, keccak256, toHex } from "viem";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeniedLeafProver } from "../src/network/deniedLeafProver.js";
import { FreedLeaves } from "../src/network/freedLeaves.js";

const hash = (what: string) => keccak256(toHex(what));
const SIGNATURE = `0x${"ab".repeat(65)}` as const;
const SETTLED = { root: hash("settled root"), requestCount: 100n };

// Review MEDIUM-1 / LOW-1 of the signed leaf denials: a node that made many denials and stalls its proof route must
// not hold the watcher's pass ~10 s a denial (the check gives up when the pass's signal aborts, denials kept), and a
// stack whose settlement is over with no root (timed out, failed) drops its denials instead of asking forever.
describe("denied leaf checks against a node that stalls its proofs", () => {
  let stalling: Server;
  let url: string;
  let asked = 0;
  beforeAll(async () => {
    // Answers nothing, ever: the node stalling every proof asked of it.
    stalling = createServer(() => {
      asked += 1;
    });
    await new Promise<void>((resolve) => stalling.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    stalling.closeAllConnections();
    await new Promise<void>((resolve) => stalling.close(() => resolve()));
  });

  function prover(freed: FreedLeaves): DeniedLeafProver {
    return new DeniedLeafProver({
      freed,
      submit: () => Promise.reject(new Error("nothing is proven against a stalling node")),
      nodeUrl: async () => url,
    });
  }

  it("gives up once the pass's signal aborts, keeping every denial for later", async () => {
    const freed = new FreedLeaves(undefined);
    for (let nonce = 0n; nonce < 20n; nonce++) await freed.free(5n, nonce, hash(`cut ${nonce}`), SIGNATURE);
    const started = Date.now();
    const check = await prover(freed).check({ stackId: 5n, nodeId: 1n }, SETTLED, AbortSignal.timeout(500));
    expect(check).toBe("pending");
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(asked).toBeGreaterThan(0);
    expect(await freed.denialsOf(5n)).toHaveLength(20);
  });

  // Issue 12's CI teardown: stopping the gateway aborts the watcher's pass, and the pass must end soon after, even
  // when the chain (the node's registered URL, read first) does not answer: an RPC that stalls held the stop for
  // as long as the call's own timeout.
  it("gives up a node URL lookup that stalls once the signal aborts, keeping the denials", async () => {
    const freed = new FreedLeaves(undefined);
    await freed.free(8n, 0n, hash("cut"), SIGNATURE);
    const rpc = createPublicClient({
      chain: foundry,
      transport: http(url, { timeout: 120_000, retryCount: 0 }),
    });
    const addresses = { NodeRegistry: "0x00000000000000000000000000000000000a77e5" as const };
    const before = asked;
    const proving = new DeniedLeafProver({
      freed,
      submit: () => Promise.reject(new Error("nothing is proven while the chain stalls")),
      nodeUrl: async (nodeId) => (await getNode({ publicClient: rpc, addresses }, nodeId)).url,
    });
    const stop = new AbortController();
    const check = proving.check({ stackId: 8n, nodeId: 1n }, SETTLED, stop.signal);
    // The lookup reached the stalling RPC (it counts every call), then the gateway stops.
    await expect.poll(() => asked, { timeout: 10_000, interval: 20 }).toBeGreaterThan(before);
    const stoppedAt = Date.now();
    stop.abort();
    expect(await check).toBe("pending");
    expect(Date.now() - stoppedAt).toBeLessThan(2_000);
    expect(await freed.denialsOf(8n)).toHaveLength(1);
  });

  it("drops the denials of a settlement over with no root (timed out), and keeps those not settled yet", async () => {
    const freed = new FreedLeaves(undefined);
    await freed.free(6n, 0n, hash("cut"), SIGNATURE);
    await freed.free(7n, 0n, hash("cut"), SIGNATURE);
    const none = { root: `0x${"00".repeat(32)}` as const, requestCount: 0n };
    expect(await prover(freed).check({ stackId: 6n, nodeId: 1n }, { ...none, over: true })).toBe("resolved");
    expect(await freed.denialsOf(6n)).toEqual([]);
    expect(await prover(freed).check({ stackId: 7n, nodeId: 1n }, none)).toBe("pending");
    expect(await freed.denialsOf(7n)).toHaveLength(1);
  });
});
