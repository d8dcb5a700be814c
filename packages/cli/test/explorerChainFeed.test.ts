import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { nodeRegistryAbi } from "@atoma/contracts";
import { parseNetwork } from "@atoma/sdk";
import { encodeEventTopics } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { named } from "../../../apps/explorer/src/chain/chainEvent.js";
import { ChainFeed } from "../../../apps/explorer/src/chain/chainFeed.js";
import { type Relay, startRelay } from "../../sdk/test/relay.js";

interface RpcRequest {
  id: number;
  method: string;
  params?: unknown[];
}

/** A JSON-RPC error answer to `request`'s id: the read is refused, as a flaky RPC node refuses it. */
const refused = (request: string) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: (JSON.parse(request) as RpcRequest).id,
    error: { code: -32000, message: "refused by the test's RPC node" },
  });

const rpcOf = (request: string): RpcRequest => JSON.parse(request) as RpcRequest;

/**
 * The explorer's chain feed reading a real anvil through a real HTTP relay that can refuse reads or lie: a failed
 * read loses nothing and is asked again (on a timer, with no new block needed), a failing node read does not hold
 * the events back, a head that goes backwards adds no event twice, a span a lagging backend answered with no logs is
 * read again at the next refresh, and a genesis block the RPC will not serve (or serves with a hash that is not one)
 * blocks nothing and is asked again on a timer.
 */
describe("the explorer's chain feed", () => {
  let devnet: Devnet;
  let relay: Relay;
  let feed: ChainFeed;
  const feedOf = (rpcUrl: string) =>
    new ChainFeed(
      parseNetwork(
        JSON.stringify({
          rpcUrl,
          chainId: devnet.anvil.chainId,
          contracts: devnet.nodeContracts,
          deploymentBlock: Number(devnet.deploymentBlock ?? 0n),
        }),
      ),
    );
  const registered = (of = feed) => named(of.snapshot().events, "NodeRegistered").length;
  const eachEventOnce = () => {
    const keys = feed.snapshot().events.map((event) => `${event.tx}-${event.logIndex}`);
    expect(new Set(keys).size).toBe(keys.length);
  };

  beforeAll(async () => {
    devnet = await startDevnet();
    relay = await startRelay(devnet.anvil.rpcUrl);
    feed = feedOf(relay.url);
    feed.start();
  });
  afterAll(async () => {
    feed?.stop();
    await relay?.close();
    await devnet?.stop();
  });

  it("keeps a span's events once its logs are read though a node read fails, and reads the nodes again with no new block", async () => {
    const first = await devnet.addNode();
    await expect.poll(() => feed.snapshot().nodes.length, { timeout: 10_000 }).toBe(1);
    expect(registered()).toBe(1);

    // The node registers while the RPC node refuses contract reads: the nodes cannot be read, the logs can.
    let refusing = true;
    relay.rewrite = (body, _path, _headers, request) =>
      refusing && request.includes('"eth_call"') ? refused(request) : body;
    const second = await devnet.addNode();
    await expect.poll(() => registered(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => feed.snapshot().error, { timeout: 10_000 }).toMatch(/^cannot read the chain at /);
    // The last good list stays while the nodes cannot be read.
    expect(feed.snapshot().nodes.map((node) => node.id)).toEqual([first.nodeId]);

    // Reads work again: the feed asks again by itself, with no new block mined.
    refusing = false;
    await expect
      .poll(() => feed.snapshot().nodes.map((node) => node.id), { timeout: 10_000 })
      .toEqual([first.nodeId, second.nodeId]);
    await expect.poll(() => feed.snapshot().error, { timeout: 10_000 }).toBeUndefined();
    eachEventOnce();
    relay.rewrite = (body) => body;
  }, 60_000);

  it("holds its block back while the logs cannot be read, and reads the span again by itself once they can", async () => {
    let refusing = true;
    relay.rewrite = (body, _path, _headers, request) =>
      refusing && request.includes('"eth_getLogs"') ? refused(request) : body;
    const count = registered();
    await devnet.addNode();
    // Taken after the node registered: the chain's head holds its registration, the feed's block stays short of it.
    const head = await devnet.publicClient.getBlockNumber({ cacheTime: 0 });
    await expect.poll(() => feed.snapshot().error, { timeout: 10_000 }).toMatch(/^cannot read the chain at /);
    expect(feed.snapshot().block ?? 0n).toBeLessThan(head);
    expect(registered()).toBe(count);

    refusing = false;
    await expect.poll(() => registered(), { timeout: 10_000 }).toBe(count + 1);
    await expect.poll(() => feed.snapshot().block ?? 0n, { timeout: 10_000 }).toBeGreaterThanOrEqual(head);
    await expect.poll(() => feed.snapshot().error, { timeout: 10_000 }).toBeUndefined();
    eachEventOnce();
    relay.rewrite = (body) => body;
  }, 60_000);

  it("adds no event twice when a head read goes backwards (a lagging backend behind a load balancer)", async () => {
    // Two backends in turn for the head: every second eth_blockNumber is answered by one still at block 0. The watch
    // sees a new block only from the up-to-date one, so the feed's own head read right after it is the lagging one.
    let lagging = true;
    let turn = 0;
    let newestTrue = -1n;
    let liedAfterNewest = false;
    relay.rewrite = (body, _path, _headers, request) => {
      const rpc = rpcOf(request);
      if (!lagging || rpc.method !== "eth_blockNumber") return body;
      turn += 1;
      if (turn % 2 === 1) {
        newestTrue = BigInt((JSON.parse(body) as { result: string }).result);
        liedAfterNewest = false;
        return body;
      }
      liedAfterNewest = true;
      return JSON.stringify({ jsonrpc: "2.0", id: rpc.id, result: "0x0" });
    };
    const count = registered();
    await devnet.addNode();
    const head = await devnet.publicClient.getBlockNumber({ cacheTime: 0 });
    // The lagging answer came right after the up-to-date one that showed the new head.
    await expect.poll(() => newestTrue >= head && liedAfterNewest, { timeout: 10_000 }).toBe(true);

    lagging = false;
    await devnet.testClient.mine({ blocks: 1 });
    const after = await devnet.publicClient.getBlockNumber({ cacheTime: 0 });
    await expect.poll(() => feed.snapshot().block ?? 0n, { timeout: 10_000 }).toBeGreaterThanOrEqual(after);
    expect(registered()).toBe(count + 1);
    eachEventOnce();
    relay.rewrite = (body) => body;
  }, 60_000);

  it("reads a span again at the next refresh when a lagging backend answered its logs with none", async () => {
    // A backend behind a load balancer, a block or two behind the head, answers [] for blocks above its own: once,
    // for the span that holds a node's registration.
    const [registration] = encodeEventTopics({ abi: nodeRegistryAbi, eventName: "NodeRegistered" });
    let lied = false;
    relay.rewrite = (body, _path, _headers, request) => {
      const rpc = rpcOf(request);
      if (lied || rpc.method !== "eth_getLogs") return body;
      const logs = (JSON.parse(body) as { result?: { topics: string[] }[] }).result ?? [];
      if (!logs.some((log) => log.topics[0] === registration)) return body;
      lied = true;
      return JSON.stringify({ jsonrpc: "2.0", id: rpc.id, result: [] });
    };
    const count = registered();
    await devnet.addNode();
    await expect.poll(() => lied, { timeout: 10_000 }).toBe(true);
    expect(registered()).toBe(count);

    // The next block's refresh reads the trailing blocks again: the registration shows, once.
    await devnet.testClient.mine({ blocks: 1 });
    await expect.poll(() => registered(), { timeout: 10_000 }).toBe(count + 1);
    eachEventOnce();
    relay.rewrite = (body) => body;
  }, 60_000);

  it("reads the events though the RPC will not serve the genesis block, and takes only a 32-byte hex hash as its hash, asked again on a timer", async () => {
    const other = await startRelay(devnet.anvil.rpcUrl);
    let genesis: "refused" | "null" | "short" | "served" = "refused";
    other.rewrite = (body, _path, _headers, request) => {
      const rpc = rpcOf(request);
      if (rpc.method !== "eth_getBlockByNumber" || rpc.params?.[0] !== "0x0" || genesis === "served")
        return body;
      if (genesis === "refused") return refused(request);
      const block = JSON.parse(body) as { result: Record<string, unknown> };
      block.result.hash = genesis === "null" ? null : "0x1a2b";
      return JSON.stringify(block);
    };
    const fresh = feedOf(other.url);
    fresh.start();
    try {
      await expect.poll(() => registered(fresh), { timeout: 10_000 }).toBe(registered());
      await expect.poll(() => fresh.snapshot().nodes.length, { timeout: 10_000 }).toBe(registered());
      expect(fresh.snapshot().genesisHash).toBeUndefined();
      for (const hostile of ["null", "short"] as const) {
        genesis = hostile;
        const asked = other.requests.length;
        await devnet.testClient.mine({ blocks: 1 });
        await expect
          .poll(
            () =>
              other.requests.slice(asked).some((r) => {
                const rpc = rpcOf(r.body);
                return rpc.method === "eth_getBlockByNumber" && rpc.params?.[0] === "0x0";
              }),
            { timeout: 10_000 },
          )
          .toBe(true);
        await expect
          .poll(() => fresh.snapshot().block, { timeout: 10_000 })
          .toBe(await devnet.publicClient.getBlockNumber({ cacheTime: 0 }));
        expect(fresh.snapshot().genesisHash).toBeUndefined();
      }
      // No block is mined: the genesis block is asked again on a timer, as on an idle chain.
      genesis = "served";
      const real = (await devnet.publicClient.getBlock({ blockNumber: 0n })).hash;
      await expect.poll(() => fresh.snapshot().genesisHash, { timeout: 10_000 }).toBe(real);
    } finally {
      fresh.stop();
      await other.close();
    }
  }, 60_000);
});
