import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeStack } from "@atoma/chain/portable";
import {
  ClientArgumentError,
  createAtomaClient,
  genesisHash,
  memoryStateStore,
  type NodePreferences,
  NodeThroughput,
  parseNetwork,
  type StateStore,
  userContext,
} from "@atoma/sdk";
import { fileStateStore } from "@atoma/sdk/node";
import type { PrivateKeyAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedBytes } from "../src/client/answerThroughput.js";
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

  const throughputOf = async (store: StateStore, account: PrivateKeyAccount) => {
    const network = parseNetwork(dev.readyText);
    const ctx = userContext(network, account);
    return new NodeThroughput(store, {
      chainId: network.chainId,
      genesis: await genesisHash(ctx),
      stackManager: network.contracts.StackManager,
      owner: account.address,
    });
  };
  /** What the clients on `stateDir` measured (written in the background: polled for). */
  const figuresIn = async (stateDir: string, account: PrivateKeyAccount) =>
    (await throughputOf(fileStateStore(stateDir), account)).figures(dev.ready.model);

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
    await expect
      .poll(() => figuresIn(dir, account), { timeout: 10_000 })
      .toSatisfy((measured: Map<bigint, number>) => measured.get(a)! > measured.get(b)! * 2);
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
    await expect
      .poll(() => figuresIn(dir, account), { timeout: 10_000 })
      .toSatisfy((after: Map<bigint, number>) => after.get(b)! > after.get(a)!);
    await closeAll(account, slowed);
    const [next] = await answers(account, dir, { sort: "throughput" });
    expect(next!.nodeId).toBe(String(b));
  }, 300_000);

  it("times an answer from its first try: a node refusing the first tries while it generates is not measured fast", async () => {
    const account = await fundedFreshBuyer(dev);
    const dir = mkdtempSync(join(tmpdir(), "atoma-tps-refused-"));
    dirs.push(dir);
    const relay = relayOf(a);
    relay.eventDelayMs = 0;
    // The node says it does not know the stack just bought (the client asks again every 250 ms) for 4 s, then
    // sends the whole answer at once: timed from the try answered alone, it would look many times faster.
    const refusedMs = 4_000;
    relay.refuseChatMs = refusedMs;
    relay.refusedChats = 0;
    const client = createAtomaClient({
      network: dev.readyText,
      account,
      preferences: { order: [a], allowFallbacks: false },
      stack: { units: 20_000n },
      stateStore: fileStateStore(dir),
      fetch: fetchThrough(relays),
    });
    const answer = await client.chat(ask(dev.ready.model, "Count to ten"));
    expect(answer.verdict?.ok).toBe(true);
    expect(relay.refusedChats).toBeGreaterThan(1);
    const bytes = generatedBytes(answer.response as unknown as Record<string, unknown>, answer.request);
    expect(bytes).toBeGreaterThan(0);
    await expect.poll(async () => (await figuresIn(dir, account)).get(a), { timeout: 10_000 }).toBeDefined();
    expect((await figuresIn(dir, account)).get(a)!).toBeLessThanOrEqual(bytes / (refusedMs / 1000));
  }, 240_000);

  it("answers at once whatever the store does with a measurement: one that hangs, one that throws", async () => {
    const account = await fundedFreshBuyer(dev);
    relayOf(b).eventDelayMs = 0;
    for (const failing of ["hangs", "throws"] as const) {
      const kept = memoryStateStore();
      const measuresTried: string[] = [];
      // A real store for everything else the client keeps (its receipts): only the measurements fail.
      const store: StateStore = {
        get: (key) => kept.get(key),
        set: (key, value) => {
          if (!key.startsWith("atoma-throughput")) return kept.set(key, value);
          measuresTried.push(key);
          if (failing === "throws") throw new Error("disk full");
          return new Promise<void>(() => undefined);
        },
      };
      const client = createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { order: [b], allowFallbacks: false },
        stack: { units: 20_000n },
        stateStore: store,
        fetch: fetchThrough(relays),
      });
      for (let k = 0; k < 3; k++) {
        let timer: NodeJS.Timeout | undefined;
        const stuck = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`answer ${k} waits on the store (${failing})`)), 60_000);
        });
        try {
          const answer = await Promise.race([client.chat(ask(dev.ready.model, `Say hi, ${k}`)), stuck]);
          expect(answer.verdict?.ok).toBe(true);
        } finally {
          clearTimeout(timer);
        }
      }
      // Each answer's measurement was tried (a hanging one holds the later ones back in the store's queue).
      await expect.poll(() => measuresTried.length).toBeGreaterThanOrEqual(failing === "hangs" ? 1 : 3);
    }
  }, 300_000);
});
