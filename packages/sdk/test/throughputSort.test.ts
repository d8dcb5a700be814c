import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeStack } from "@atoma/chain/portable";
import {
  ClientArgumentError,
  createAtomaClient,
  genesisHash,
  type NodePreferences,
  NodeThroughput,
  parseNetwork,
  userContext,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import type { PrivateKeyAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, fundedFreshBuyer } from "./devActors.js";
import { devNetworkFixture } from "./devNetworkFixture.js";
import { fetchThrough, type PacedRelay, startPacedRelay } from "./pacedRelay.js";

/**
 * `sort: "throughput"` on a real dev network (anvil, two nodes on the tiny model): each node is reached through a
 * relay that can hold each token of its streamed answers, so one serves this client slower than the other.
 */
describe('the non-custodial client\'s sort: "throughput"', () => {
  const dev = devNetworkFixture(2);
  const relays = new Map<string, PacedRelay>();
  const dirs: string[] = [];
  let a: bigint;
  let b: bigint;
  beforeAll(async () => {
    for (const node of dev.ready.nodes) relays.set(new URL(node.url).origin, await startPacedRelay(node.url));
    [a, b] = dev.ready.nodes.map((node) => BigInt(node.id)) as [bigint, bigint];
  }, 300_000);
  afterAll(async () => {
    for (const relay of relays.values()) await relay.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const relayOf = (nodeId: bigint) =>
    relays.get(new URL(dev.ready.nodes.find((n) => BigInt(n.id) === nodeId)!.url).origin)!;

  /** `times` streamed answers, through a client on `stateDir` made anew (as after a restart) for each. */
  async function answers(
    account: PrivateKeyAccount,
    stateDir: string,
    preferences: NodePreferences,
    times = 1,
  ) {
    const served: { nodeId: string; stackId: string }[] = [];
    for (let k = 0; k < times; k++) {
      const client = createAtomaClient({
        network: dev.readyText,
        account,
        preferences,
        stack: { units: 20_000n },
        stateStore: fileStateStore(stateDir),
        fetch: fetchThrough(relays),
      });
      const answer = await client.chatStream(ask(dev.ready.model, `Count to ten, ${k}`), () => undefined);
      expect(answer.verdict?.ok).toBe(true);
      served.push({ nodeId: answer.atoma.node_id, stackId: answer.atoma.stack_id });
    }
    return served;
  }

  /** Closes the owner's stacks that served: the next answer is bought, the node picked by the sort. */
  async function closeAll(account: PrivateKeyAccount, served: { stackId: string }[]) {
    const ctx = userContext(parseNetwork(dev.readyText), account);
    for (const stackId of new Set(served.map((s) => s.stackId)))
      await closeStack(ctx, { stackId: BigInt(stackId) });
  }

  const figuresIn = async (stateDir: string, account: PrivateKeyAccount) => {
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    return new NodeThroughput(fileStateStore(stateDir), {
      chainId: network.chainId,
      genesis: await genesisHash(ctx),
      stackManager: network.contracts.StackManager,
      owner: account.address,
    }).figures();
  };

  it("with nothing measured, buys as with no sort; refuses a sort it does not know before anything is bought", async () => {
    const account = await fundedFreshBuyer(dev);
    const dir = mkdtempSync(join(tmpdir(), "atoma-tps-none-"));
    dirs.push(dir);
    const [served] = await answers(account, dir, { sort: "throughput" });
    expect([String(a), String(b)]).toContain(served!.nodeId);
    for (const sort of ["fastest", "Throughput", 1])
      expect(() =>
        createAtomaClient({
          network: dev.readyText,
          account,
          preferences: { sort: sort as NodePreferences["sort"] },
        }),
      ).toThrow(ClientArgumentError);
  }, 240_000);

  it("buys from the node measured faster, kept in a file store across clients; one that slows down loses the rank", async () => {
    const account = await fundedFreshBuyer(dev);
    const dir = mkdtempSync(join(tmpdir(), "atoma-tps-"));
    dirs.push(dir);
    relayOf(a).eventDelayMs = 0;
    relayOf(b).eventDelayMs = 150;
    const measuring = [
      ...(await answers(account, dir, { order: [b], allowFallbacks: false }, 2)),
      ...(await answers(account, dir, { order: [a], allowFallbacks: false }, 2)),
    ];
    expect(measuring.map((s) => s.nodeId)).toEqual([b, b, a, a].map(String));
    const measured = await figuresIn(dir, account);
    expect(measured.get(a)!).toBeGreaterThan(measured.get(b)! * 2);
    await closeAll(account, measuring);
    // A new client over the same directory reads what the earlier ones measured, and buys from the faster node.
    const [fast] = await answers(account, dir, { sort: "throughput" });
    expect(fast!.nodeId).toBe(String(a));
    // Bought, not one of the stacks closed: a stack its owner closed takes no more requests.
    expect(measuring.map((s) => s.stackId)).not.toContain(fast!.stackId);

    // Node a slows down to half node b's pace: its fast answers are soon outweighed, and b is bought from.
    relayOf(a).eventDelayMs = 300;
    const slowed = await answers(account, dir, { order: [a], allowFallbacks: false }, 3);
    expect(slowed.every((s) => s.stackId === fast!.stackId)).toBe(true);
    const after = await figuresIn(dir, account);
    expect(after.get(b)!).toBeGreaterThan(after.get(a)!);
    await closeAll(account, slowed);
    const [next] = await answers(account, dir, { sort: "throughput" });
    expect(next!.nodeId).toBe(String(b));
  }, 300_000);
});
