import {
  answerIndexChallenge,
  type ChainContext,
  ChallengeStatus,
  closeStack,
  createTask,
  getChallenge,
  getSettlement,
  getStack,
  SettlementPhase,
  setNodeUrl,
  submitSettlement,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { challengeManagerAbi, TaskSecurityLevel } from "@atoma/contracts";
import {
  costOfUnits,
  type Logger,
  leafHash,
  leafOf,
  requestHash,
  type StackLeaf,
  StackTree,
  silentLogger,
} from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { pino } from "pino";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { BackgroundLoop } from "../src/network/backgroundLoop.js";
import { IdleStackCloser } from "../src/network/idleStackCloser.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { type ChallengeOutcome, OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../src/network/ownerChallengeBook.js";
import { receiptFromRow } from "../src/network/receiptRows.js";
import { StackPool, type StackPoolOptions } from "../src/network/stackPool.js";
import { StackRestocker } from "../src/network/stackRestocker.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { parseProviderPreferences } from "../src/routing/providerPreferences.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const MODEL = "tiny";
/** What nodes 1, 2 and 3 ask per million units; node 4 asks the least but takes almost no units. */
const PRICES = [parseEther("1"), parseEther("2"), parseEther("3"), parseEther("0.5")];
/** The deployment's settlement challenge window and the owner challenge's answer window (seconds). */
const CHALLENGE_WINDOW = 600;
const ANSWER_WINDOW = 300;
/** The time a node has to settle a stack after it closes or expires (seconds). */
const SETTLE_WINDOW = 600;

/**
 * The gateway's stacks through their life on anvil with the whole system deployed, in front of fake nodes that
 * sign receipts as real ones do: bought at the node the routing ranked, bought again ahead of need, closed when
 * idle with the rest refunded to the wallet, and settlements that claim more than the gateway's receipts challenged
 * (an honest one left alone).
 */
describe("the gateway's stacks on-chain", () => {
  let devnet: Devnet;
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let wallet: { account: LocalAccount; ctx: ChainContext };
  let nodes: DevNode[];
  let fakes: Awaited<ReturnType<typeof startFakeNode>>[];
  let catalog: NetworkCatalog;
  let health: NodeHealthBook;
  const bought: { nodeId: bigint; reason: string }[] = [];
  const challenges: [string, ChallengeOutcome][] = [];
  /** What each fake node does with the next request (honest unless a test says otherwise). */
  const scripts: NodeScript[] = [];

  const tomaOf = (address: `0x${string}`) => devnet.deployment.contracts.token.read.balanceOf([address]);
  const pool = (options: Partial<StackPoolOptions> = {}, logger?: Logger) =>
    new StackPool(
      {
        db: opened.db,
        chain: wallet.ctx,
        logger,
        onBought: (nodeId, reason) => bought.push({ nodeId, reason }),
      },
      { maxPricePerMillion: parseEther("3"), unitsPerStack: 1_000n, durationSeconds: 86_400n, ...options },
    );
  const upstreamOf = (stacks: StackPool) =>
    new NetworkUpstream(
      {
        catalog,
        pool: stacks,
        account: wallet.account,
        chainId: devnet.anvil.chainId,
        stackManager: devnet.deployment.addresses.StackManager,
        health,
      },
      { resendDelayMs: 10 },
    );
  const send = (upstream: NetworkUpstream, provider?: Record<string, unknown>) =>
    upstream.send({
      endpoint: "chat",
      model: MODEL,
      body: { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
      stream: false,
      maxUnits: 10n,
      signal: new AbortController().signal,
      ...(provider !== undefined && { provider: parseProviderPreferences(provider) }),
    });
  const stackRow = (stackId: bigint) =>
    opened.db.selectFrom("stacks").selectAll().where("stack_id", "=", stackId).executeTakeFirstOrThrow();
  /** The leaves of the receipts the gateway kept for a stack, in order: what an honest node settles. */
  const keptLeaves = async (stackId: bigint): Promise<StackLeaf[]> => {
    const rows = await opened.db
      .selectFrom("receipts")
      .select("receipt")
      .where("stack_id", "=", stackId)
      .orderBy("leaf_index")
      .execute();
    return rows.map((row) => leafOf(receiptFromRow(row.receipt).fields));
  };
  const settle = (
    node: DevNode,
    stackId: bigint,
    leaves: StackLeaf[],
    units = leaves.at(-1)!.cumulativeUnits,
  ) =>
    submitSettlement(node.signer, {
      stackId,
      root: new StackTree(leaves.map(leafHash)).root,
      units,
      requestCount: BigInt(leaves.length),
      transcriptId: `0x${"ab".repeat(32)}`,
    });
  const watcher = () =>
    new OverclaimWatcher(
      {
        challenges: new OwnerChallengeBook(opened.db),
        pool: pool(),
        chain: wallet.ctx,
        onChallenge: (kind, outcome) => challenges.push([kind, outcome]),
      },
      { watchSeconds: 86_400n },
    );
  const nodeId = (i: number) => nodes[i]!.nodeId;
  /** Takes every stack out of the pool, so the next request buys. */
  const retireAll = () => opened.db.updateTable("stacks").set({ state: "retired" }).execute();

  beforeAll(async () => {
    devnet = await startDevnet();
    const { modelId } = await devnet.registerModel({ name: MODEL });
    nodes = [];
    for (let i = 0; i < PRICES.length; i++) nodes.push(await devnet.addNode());
    fakes = await Promise.all(
      nodes.map((node, i) =>
        startFakeNode(
          node.signerAccount,
          node.nodeId,
          devnet.anvil.chainId,
          devnet.deployment.addresses.StackManager,
          () => scripts[i] ?? { kind: "honest" },
        ),
      ),
    );
    const { taskId } = await createTask(devnet.admin, {
      modelId,
      role: TaskRole.Chat,
      securityLevel: TaskSecurityLevel.None,
    });
    for (const [i, node] of nodes.entries()) {
      await setNodeUrl(node.operator, { nodeId: node.nodeId, url: fakes[i]!.url });
      // Node 4 takes 10 units in unsettled stacks: never a whole stack.
      await subscribe(node.signer, {
        taskId,
        nodeId: node.nodeId,
        pricePerMillion: PRICES[i]!,
        capacity: i === 3 ? 10n : 10n ** 12n,
      });
    }
    await devnet.advance(3_600);
    const funded = await devnet.account(parseEther("100"));
    wallet = { account: funded.account, ctx: funded.ctx };
    catalog = new NetworkCatalog(readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }), {
      modelNames: [MODEL],
      nodeTimeoutMs: 200,
      allowPrivateNodeUrls: true,
    });
    await catalog.refresh();
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
  }, 180_000);

  // Every test starts with an empty pool: the watcher then sees only that test's stacks (fake nodes never settle
  // the others, which it would time out, slashing their nodes).
  beforeEach(async () => {
    await opened.db.deleteFrom("receipts").execute();
    await opened.db.deleteFrom("signed_requests").execute();
    await opened.db.deleteFrom("stacks").execute();
  });

  afterAll(async () => {
    for (const fake of fakes ?? []) await fake.stop();
    await opened?.close();
    await db?.dispose();
    await devnet?.stop();
  });

  describe("buying at the node the routing ranked", () => {
    it("buys at the node a request's sort or order ranks first, not one the chain draws", async () => {
      expect(catalog.model(MODEL)?.tasks[0]?.nodes).toHaveLength(4);
      health = new NodeHealthBook();
      // Node 3, the dearest, answers first: sort=latency ranks it first.
      health.served(nodeId(2), 50, undefined);
      health.served(nodeId(0), 900, undefined);
      health.served(nodeId(1), 900, undefined);
      health.served(nodeId(3), 900, undefined);
      const upstream = upstreamOf(pool({ maxStacksPerModel: 8 }));
      const fast = await send(upstream, { sort: "latency" });
      expect(fast.nodeId).toBe(nodeId(2));
      const ordered = await send(upstream, { order: [String(nodeId(1))], allow_fallbacks: false });
      expect(ordered.nodeId).toBe(nodeId(1));
      // What the chain holds: each stack at the node asked for, at its own price.
      const stacks = await opened.db.selectFrom("stacks").selectAll().orderBy("stack_id").execute();
      expect(stacks.map((s) => [s.node_id, s.price_per_million])).toEqual([
        [nodeId(2), PRICES[2]],
        [nodeId(1), PRICES[1]],
      ]);
      for (const stack of stacks)
        expect(await getStack(wallet.ctx, stack.stack_id)).toMatchObject({
          nodeId: stack.node_id,
          owner: wallet.account.address,
        });
      expect(bought).toEqual([
        { nodeId: nodeId(2), reason: "request" },
        { nodeId: nodeId(1), reason: "request" },
      ]);
    }, 60_000);

    it("moves on to the next ranked node when the first cannot take the stack, and passes it over for a while", async () => {
      health = new NodeHealthBook();
      await retireAll();
      const lines: string[] = [];
      const upstream = upstreamOf(pool({ maxStacksPerModel: 8 }, capturing(lines)));
      const failedPurchases = () => lines.filter((line) => line.includes("buying a stack failed")).length;
      // Node 4 ranks first (cheapest, and asked for), but its capacity is under a stack: the contract refuses it.
      const order = { order: [String(nodeId(3)), String(nodeId(0))] };
      const answer = await send(upstream, order);
      expect(answer.nodeId).toBe(nodeId(0));
      expect(bought.at(-1)).toEqual({ nodeId: nodeId(0), reason: "request" });
      expect(failedPurchases()).toBe(1);
      // The next purchase does not spend a call on it again: a node cannot slow every purchase down this way.
      await retireAll();
      expect((await send(upstream, order)).nodeId).toBe(nodeId(0));
      expect(failedPurchases()).toBe(1);
      expect(
        await opened.db.selectFrom("stacks").select("node_id").where("node_id", "=", nodeId(3)).execute(),
      ).toEqual([]);
      // A request that allows only that node gets 503, and the wallet buys nothing (no node drawn it cannot use).
      await retireAll();
      const purchases = bought.length;
      const again = upstreamOf(pool({ maxStacksPerModel: 8 }));
      await expect(send(again, { order: [String(nodeId(3))], allow_fallbacks: false })).rejects.toMatchObject(
        {
          code: "no_node_available",
        },
      );
      expect(bought).toHaveLength(purchases);
    }, 60_000);
  });

  it("buys a stack running low again in the background: after warm-up no request waits on a purchase", async () => {
    bought.length = 0;
    health = new NodeHealthBook();
    // 60 units a stack, 5 a request (10 reserved): a stack serves 11 requests, and is bought again under 40 left.
    const stacks = pool({ unitsPerStack: 60n, maxStacksPerModel: 3 });
    const restocker = new StackRestocker(
      { pool: stacks, models: () => catalog.models() },
      { belowUnits: 40n, withinSeconds: 300n },
    );
    const loop = new BackgroundLoop("buy-ahead", 50, (signal) => restocker.pass(signal), silentLogger);
    const upstream = upstreamOf(stacks);
    const only = { only: [String(nodeId(0))] };
    await send(upstream, only);
    expect(bought).toEqual([{ nodeId: nodeId(0), reason: "request" }]);
    loop.start();
    try {
      for (let i = 0; i < 30; i++) {
        expect((await send(upstream, only)).nodeId).toBe(nodeId(0));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      await loop.stop();
    }
    // 31 requests of 5 units: 155 units, more than two stacks hold. Every later stack was bought ahead.
    const reasons = bought.map((b) => b.reason);
    expect(reasons[0]).toBe("request");
    expect(reasons.slice(1).length).toBeGreaterThanOrEqual(2);
    expect(reasons.slice(1).every((reason) => reason === "ahead")).toBe(true);
    const used = await opened.db.selectFrom("stacks").select("units_used").execute();
    expect(used.reduce((sum, row) => sum + row.units_used, 0n)).toBe(155n);
  }, 120_000);

  it("buys again a stack nearing expiry before it stops taking requests, once", async () => {
    await retireAll();
    bought.length = 0;
    health = new NodeHealthBook();
    // The pool's clock on the chain's: the stack lasts 2,000 s and takes no request in its last 600.
    const clock = { now: Number(await devnet.now()) * 1000 };
    const stacks = pool({ durationSeconds: 2_000n, now: () => clock.now });
    await send(upstreamOf(stacks), { only: [String(nodeId(0))] });
    const restocker = new StackRestocker(
      { pool: stacks, models: () => catalog.models(), health, now: () => clock.now },
      { belowUnits: 100n, withinSeconds: 300n, usedWithinMs: 3_600_000 },
    );
    await restocker.pass();
    expect(bought).toHaveLength(1);
    // 1,200 s on, the stack is 200 s from no longer taking requests: its replacement is bought, and only one.
    clock.now += 1_200_000;
    await devnet.advance(1_200);
    await restocker.pass();
    await restocker.pass();
    expect(bought).toEqual([
      { nodeId: nodeId(0), reason: "request" },
      { nodeId: nodeId(0), reason: "ahead" },
    ]);
  }, 60_000);

  // Review (attack): a node that answers every stack with a stack refusal ("stack_closed", though the chain says
  // it is open) is believed: the stack is retired, the node stays in rotation and is not put aside, and the same
  // request buys again at it, three stacks per request, each escrowing a whole stack until it settles or expires.
  it("review: a node that refuses every stack as closed does not make the gateway buy stack after stack", async () => {
    await retireAll();
    health = new NodeHealthBook();
    bought.length = 0;
    scripts[1] = { kind: "refuse", status: 409, code: "stack_closed" };
    try {
      const upstream = upstreamOf(pool());
      for (let i = 0; i < 3; i++) await send(upstream, { only: [String(nodeId(1))] }).catch(() => undefined);
    } finally {
      scripts[1] = { kind: "honest" };
    }
    const atNode = bought.filter((b) => b.nodeId === nodeId(1)).length;
    // Three requests: at most the first stack bought there (then the node is put aside or the refusal checked).
    expect(atNode).toBeLessThanOrEqual(1);
  }, 120_000);

  it("retires a stack whose refusal the chain bears out (closed on-chain), and puts aside a node refusing an open one", async () => {
    await retireAll();
    health = new NodeHealthBook();
    bought.length = 0;
    const upstream = upstreamOf(pool());
    await send(upstream, { only: [String(nodeId(2))] });
    const first = await opened.db
      .selectFrom("stacks")
      .select("stack_id")
      .where("state", "<>", "retired")
      .where("node_id", "=", nodeId(2))
      .executeTakeFirstOrThrow();
    await closeStack(wallet.ctx, { stackId: first.stack_id });
    scripts[2] = { kind: "refuse", status: 409, code: "stack_closed" };
    try {
      // Closed indeed: retired, and another bought; that one is open, so its refusal puts the node aside.
      await expect(send(upstream, { only: [String(nodeId(2))] })).rejects.toThrow();
    } finally {
      scripts[2] = { kind: "honest" };
    }
    expect((await stackRow(first.stack_id)).state).toBe("retired");
    expect(bought.filter((b) => b.nodeId === nodeId(2))).toHaveLength(2);
    const open = await opened.db
      .selectFrom("stacks")
      .select("stack_id")
      .where("state", "<>", "retired")
      .where("node_id", "=", nodeId(2))
      .execute();
    expect(open).toHaveLength(1);
    expect(health.available(nodeId(2))).toBe(false);
  }, 120_000);

  it("does not buy again at a node out of rotation, nor for a stack no request used lately", async () => {
    await retireAll();
    bought.length = 0;
    health = new NodeHealthBook();
    const clock = { now: Date.now() };
    // 20 units a stack: one request (5) leaves it under the 16 bought again below.
    const stacks = pool({ unitsPerStack: 20n, now: () => clock.now });
    await send(upstreamOf(stacks), { only: [String(nodeId(0))] });
    const restocker = (book: NodeHealthBook) =>
      new StackRestocker(
        { pool: stacks, models: () => catalog.models(), health: book, now: () => clock.now },
        { belowUnits: 16n, withinSeconds: 300n, usedWithinMs: 60_000 },
      );
    const removed = new NodeHealthBook();
    removed.remove(nodeId(0), "response_unverified");
    await restocker(removed).pass();
    clock.now += 61_000;
    await restocker(health).pass();
    expect(bought).toEqual([{ nodeId: nodeId(0), reason: "request" }]);
    // Used lately, in rotation: bought again.
    clock.now -= 61_000;
    await restocker(health).pass();
    expect(bought).toEqual([
      { nodeId: nodeId(0), reason: "request" },
      { nodeId: nodeId(0), reason: "ahead" },
    ]);
  }, 60_000);

  it("closes a stack left idle, and the units it did not use come back to the wallet after settlement", async () => {
    await retireAll();
    const clock = { now: Date.now() };
    const stacks = pool({ now: () => clock.now });
    const upstream = upstreamOf(stacks);
    const only = { only: [String(nodeId(0))] };
    const first = await send(upstream, only);
    await send(upstream, only);
    const stackId = BigInt(first.atoma.stack_id as string);
    // The gateway holds the stacks it used until they sit idle (its hold timer): handed back here.
    await stacks.renewHolds(0);
    const closer = new IdleStackCloser({ pool: stacks, now: () => clock.now }, { idleMs: 60_000 });
    // Not idle long enough: left alone.
    clock.now += 30_000;
    await closer.pass();
    expect((await stackRow(stackId)).state).toBe("idle");
    expect((await getStack(wallet.ctx, stackId)).closedAt).toBe(0n);
    clock.now += 31_000;
    await closer.pass();
    expect((await stackRow(stackId)).state).toBe("retired");
    expect((await getStack(wallet.ctx, stackId)).closedAt).toBeGreaterThan(0n);
    // A request now buys another stack rather than using the closed one.
    expect(BigInt((await send(upstream, only)).atoma.stack_id as string)).not.toBe(stackId);

    // The node settles what the receipts say (10 units); after the challenge window the watcher pays it out and
    // withdraws the refund to the wallet.
    const { escrow } = await getStack(wallet.ctx, stackId);
    const leaves = await keptLeaves(stackId);
    expect(leaves.map((leaf) => leaf.cumulativeUnits)).toEqual([5n, 10n]);
    await settle(nodes[0]!, stackId, leaves, 10n);
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Accepted);
    const before = await tomaOf(wallet.account.address);
    await watcher().pass();
    // Inside the window: checked, nothing challenged, nothing paid yet.
    expect(challenges).toEqual([]);
    expect(await tomaOf(wallet.account.address)).toBe(before);
    await devnet.advance(CHALLENGE_WINDOW + 1);
    await watcher().pass();
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Finalized);
    // The escrow less what the 10 units cost, or less the minimum charge of reserving a stack when that is more.
    const minCharge = await devnet.deployment.contracts.stackManager.read.minCharge([stackId]);
    const cost = costOfUnits(10n, PRICES[0]!);
    const refunded = (await tomaOf(wallet.account.address)) - before;
    const charged = [cost, minCharge].sort((a, b) => (a < b ? 1 : -1))[0]!;
    expect(refunded).toBe(escrow - charged);
    expect(refunded).toBeGreaterThan(escrow / 2n);
  }, 120_000);

  describe("settlements that claim more than the gateway's receipts", () => {
    /** A stack of the gateway's at node `i` with two requests served, closed. */
    /** Two requests answered on a fresh stack of node `i` (and, with `unanswered`, a third the node dropped). */
    const servedStack = async (i: number, unanswered = false) => {
      await retireAll();
      const upstream = upstreamOf(pool());
      const first = await send(upstream, { only: [String(nodeId(i))] });
      await send(upstream, { only: [String(nodeId(i))] });
      if (unanswered) {
        scripts[i] = { kind: "drop" };
        await expect(send(upstream, { only: [String(nodeId(i))], allow_fallbacks: false })).rejects.toThrow();
        scripts[i] = { kind: "honest" };
      }
      const stackId = BigInt(first.atoma.stack_id as string);
      await opened.db
        .updateTable("stacks")
        .set({ state: "retired" })
        .where("stack_id", "=", stackId)
        .execute();
      await closeStack(wallet.ctx, { stackId });
      return { stackId, leaves: await keptLeaves(stackId) };
    };
    const collateralOf = async (i: number) =>
      (await devnet.deployment.contracts.nodeRegistry.read.getNode([nodeId(i)])).collateral;

    it("challenges an inflated last leaf with the gateway's receipt: upheld at once, the node slashed", async () => {
      challenges.length = 0;
      const { stackId, leaves } = await servedStack(1);
      const inflated = [leaves[0]!, { ...leaves[1]!, units: 495n, cumulativeUnits: 500n }];
      await settle(nodes[1]!, stackId, inflated, 500n);
      const collateral = await collateralOf(1);
      await watcher().pass();
      expect(challenges).toEqual([["receipt", "upheld"]]);
      expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
      expect(await collateralOf(1)).toBeLessThan(collateral);
    }, 120_000);

    it("challenges leaves padded past every request the gateway signed by index, and resolves it unanswered, even after a restart", async () => {
      challenges.length = 0;
      const { stackId, leaves } = await servedStack(2);
      const padded: StackLeaf = {
        leafIndex: 2n,
        nonce: 2n,
        reqHash: keccak256(stringToBytes("never signed")),
        respHash: keccak256(stringToBytes("junk")),
        units: 800n,
        cumulativeUnits: 810n,
      };
      await settle(nodes[2]!, stackId, [...leaves, padded], 810n);
      const collateral = await collateralOf(2);
      const w = watcher();
      await w.pass();
      expect(challenges).toEqual([["index", "opened"]]);
      expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Disputed);
      // Passes before the answer deadline change nothing.
      await w.pass();
      expect(challenges).toHaveLength(1);
      const before = await tomaOf(wallet.account.address);
      await devnet.advance(ANSWER_WINDOW + 1);
      // A gateway started again since (nothing of the challenge in memory) finds it in the logs and resolves it.
      await watcher().pass();
      expect(challenges).toEqual([
        ["index", "opened"],
        ["index", "upheld"],
      ]);
      expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
      expect(await collateralOf(2)).toBeLessThan(collateral);
      // The bond, the whole escrow and the owner's share of the slash came back to the wallet.
      expect((await tomaOf(wallet.account.address)) - before).toBeGreaterThan(parseEther("1"));
    }, 120_000);

    it("leaves an honest settlement alone, even one past a receipt the gateway lost", async () => {
      challenges.length = 0;
      const honest = await servedStack(0);
      await settle(nodes[0]!, honest.stackId, honest.leaves, 10n);
      // A third request the gateway signed and the node served, whose receipt never reached the gateway.
      const lost = await servedStack(0, true);
      const third: StackLeaf = {
        leafIndex: 2n,
        nonce: 2n,
        reqHash: requestHash(fakes[0]!.requests.at(-1)!),
        respHash: keccak256(stringToBytes("answer")),
        units: 5n,
        cumulativeUnits: 15n,
      };
      // The gateway's receipts stop at nonce 2; what it signed does not.
      expect((await stackRow(lost.stackId)).next_nonce).toBe(2n);
      await settle(nodes[0]!, lost.stackId, [...lost.leaves, third], 15n);
      const before = await tomaOf(wallet.account.address);
      await watcher().pass();
      expect(challenges).toEqual([["index", "unprovable"]]);
      for (const stackId of [honest.stackId, lost.stackId])
        expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Accepted);
      // No bond paid.
      expect(await tomaOf(wallet.account.address)).toBe(before);
    }, 120_000);

    // Review (attack): a node commits the gateway's signed request, then withholds its receipt (drops the
    // connection on every resend). StackClient moves its nonce on only when a receipt arrives, so the gateway's
    // next_nonce stays at the withheld leaf; the watcher then challenges that leaf "by index" as never signed, and
    // the node answers with the gateway's own signature: the challenge is dismissed and the bond goes to the node.
    it("review: never challenges by index a leaf whose request the gateway signed (receipt withheld by the node)", async () => {
      challenges.length = 0;
      await retireAll();
      const upstream = upstreamOf(pool());
      const only = { only: [String(nodeId(0))], allow_fallbacks: false };
      const first = await send(upstream, only);
      await send(upstream, only);
      const stackId = BigInt(first.atoma.stack_id as string);
      const fake = fakes[0]!;
      const seen = fake.requests.length;
      scripts[0] = { kind: "drop" };
      await expect(send(upstream, only)).rejects.toThrow();
      scripts[0] = { kind: "honest" };
      // The node holds the gateway's signature over nonce 2, and the gateway's record stops at nonce 2.
      const envelope = fake.envelopes[seen]!;
      expect(envelope["x-atoma-nonce"]).toBe("2");
      expect((await stackRow(stackId)).next_nonce).toBe(2n);
      await opened.db
        .updateTable("stacks")
        .set({ state: "retired" })
        .where("stack_id", "=", stackId)
        .execute();
      await closeStack(wallet.ctx, { stackId });
      const leaves = await keptLeaves(stackId);
      const withheld: StackLeaf = {
        leafIndex: 2n,
        nonce: 2n,
        reqHash: requestHash(fake.requests[seen]),
        respHash: keccak256(stringToBytes("the answer the gateway never got")),
        units: 5n,
        cumulativeUnits: leaves.at(-1)!.cumulativeUnits + 5n,
      };
      const all = [...leaves, withheld];
      await settle(nodes[0]!, stackId, all);
      const before = await tomaOf(wallet.account.address);
      // One watcher for both passes (a fresh one audits again, and reports the unprovable claim again).
      const w = watcher();
      await w.pass();
      const logs = await wallet.ctx.publicClient.getContractEvents({
        address: devnet.deployment.addresses.ChallengeManager,
        abi: challengeManagerAbi,
        eventName: "ChallengeOpened",
        args: { stackId },
        fromBlock: 0n,
      });
      const challengeId = logs.at(-1)?.args.challengeId;
      if (challengeId !== undefined) {
        // The node answers with the gateway's own signature on the request: dismissed, the bond is the node's.
        await answerIndexChallenge(nodes[0]!.signer, {
          challengeId,
          leaf: withheld,
          deadline: BigInt(envelope["x-atoma-deadline"]!),
          maxUnits: BigInt(envelope["x-atoma-max-units"]!),
          ownerSignature: envelope["x-atoma-signature"] as Hex,
          proof: new StackTree(all.map(leafHash)).proof(2),
          previous: all[1],
          previousProof: new StackTree(all.map(leafHash)).proof(1),
        });
        expect((await getChallenge(wallet.ctx, challengeId)).status).toBe(ChallengeStatus.Dismissed);
      }
      await w.pass();
      // What should happen: a leaf the gateway signed is not challengeable; no bond is lost.
      expect(challenges).toEqual([["index", "unprovable"]]);
      expect(await tomaOf(wallet.account.address)).toBeGreaterThanOrEqual(before);
    }, 120_000);
  });

  // Last: the node it slashes can no longer sell stacks.
  it("times out a closed stack its node never settles: the whole escrow comes back, the node slashed", async () => {
    await retireAll();
    const clock = { now: Date.now() };
    const stacks = pool({ now: () => clock.now });
    const first = await send(upstreamOf(stacks), { only: [String(nodeId(0))] });
    const stackId = BigInt(first.atoma.stack_id as string);
    await stacks.renewHolds(0);
    clock.now += 61_000;
    await new IdleStackCloser({ pool: stacks, now: () => clock.now }, { idleMs: 60_000 }).pass();
    const { escrow } = await getStack(wallet.ctx, stackId);
    const collateral = (await devnet.deployment.contracts.nodeRegistry.read.getNode([nodeId(0)])).collateral;
    // Within the settle window nothing happens; past it, the watcher times the stack out.
    const w = watcher();
    await w.pass();
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.None);
    const before = await tomaOf(wallet.account.address);
    await devnet.advance(SETTLE_WINDOW + 1);
    await w.pass();
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.TimedOut);
    // The escrow, and the gateway's share of the node's timeout slash.
    expect((await tomaOf(wallet.account.address)) - before).toBeGreaterThanOrEqual(escrow);
    expect(
      (await devnet.deployment.contracts.nodeRegistry.read.getNode([nodeId(0)])).collateral,
    ).toBeLessThan(collateral);
  }, 60_000);
});

/** A logger that keeps every line it writes. */
function capturing(lines: string[]): Logger {
  return pino({ level: "debug", base: null }, { write: (line: string) => void lines.push(line) });
}
