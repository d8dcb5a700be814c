import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { parseNetwork } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { named } from "../../../apps/explorer/src/chain/chainEvent.js";
import { ChainFeed } from "../../../apps/explorer/src/chain/chainFeed.js";
import { type Relay, startRelay } from "../../sdk/test/relay.js";

/** A JSON-RPC error answer to `request`'s id: the read is refused, as a flaky RPC node refuses it. */
const refused = (request: string) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: (JSON.parse(request) as { id: number }).id,
    error: { code: -32000, message: "refused by the test's RPC node" },
  });

/**
 * The explorer's chain feed reading a real anvil through a real HTTP relay that can refuse reads: a span whose
 * reads fail is read again at the next block, so no event is dropped until a reload.
 */
describe("the explorer's chain feed", () => {
  let devnet: Devnet;
  let relay: Relay;
  let feed: ChainFeed;

  beforeAll(async () => {
    devnet = await startDevnet();
    relay = await startRelay(devnet.anvil.rpcUrl);
    feed = new ChainFeed(
      parseNetwork(
        JSON.stringify({
          rpcUrl: relay.url,
          chainId: devnet.anvil.chainId,
          contracts: devnet.nodeContracts,
          deploymentBlock: Number(devnet.deploymentBlock ?? 0n),
        }),
      ),
    );
    feed.start();
  });
  afterAll(async () => {
    feed?.stop();
    await relay?.close();
    await devnet?.stop();
  });

  it("reads a span again at the next block when its reads failed, losing none of its events", async () => {
    const registered = () => named(feed.snapshot().events, "NodeRegistered").length;
    const first = await devnet.addNode();
    await expect.poll(() => feed.snapshot().nodes.length, { timeout: 10_000 }).toBe(1);
    expect(registered()).toBe(1);

    // The node registers while the RPC node refuses contract reads: the feed's reads of that span fail.
    let refusing = true;
    relay.rewrite = (body, _path, _headers, request) =>
      refusing && request.includes('"eth_call"') ? refused(request) : body;
    const atBlock = () => feed.snapshot().block;
    const before = atBlock();
    const second = await devnet.addNode();
    await expect.poll(() => feed.snapshot().error, { timeout: 10_000 }).toMatch(/^cannot read the chain at /);
    expect(registered()).toBe(1);
    expect(atBlock()).toBe(before);

    // Reads work again; the next block brings the span back, the second node's registration with it.
    refusing = false;
    await devnet.testClient.mine({ blocks: 1 });
    await expect.poll(() => registered(), { timeout: 10_000 }).toBe(2);
    expect(feed.snapshot().nodes.map((node) => node.id)).toEqual([first.nodeId, second.nodeId]);
    expect(feed.snapshot().error).toBeUndefined();
    // Each event once: the span read again is not added twice.
    const keys = feed.snapshot().events.map((event) => `${event.tx}-${event.logIndex}`);
    expect(new Set(keys).size).toBe(keys.length);
  }, 60_000);
});
