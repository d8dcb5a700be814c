import {
  answerIndexChallenge,
  type ChainContext,
  closeStack,
  createTask,
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
import { leafHash, leafOf, requestHash, type StackLeaf, StackTree } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { type ChallengeOutcome, OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { receiptFromRow } from "../src/network/receiptRows.js";
import { StackPool } from "../src/network/stackPool.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { parseProviderPreferences } from "../src/routing/providerPreferences.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const MODEL = "tiny";
/** A public address nothing answers at (TEST-NET-3 is not in the private list). */
const PUBLIC_URL = "http://203.0.113.7:9";

describe("stacks against hostile nodes", () => {
  let devnet: Devnet;
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let wallet: { account: LocalAccount; ctx: ChainContext };
  let nodes: DevNode[];
  let fakes: Awaited<ReturnType<typeof startFakeNode>>[];
  const scripts: NodeScript[] = [];
  const bought: bigint[] = [];

  const pools: StackPool[] = [];
  const pool = (units: bigint) => {
    const made = new StackPool(
      { db: opened.db, chain: wallet.ctx, onBought: (nodeId) => bought.push(nodeId) },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: units,
        durationSeconds: 86_400n,
        maxStacksPerModel: 2,
      },
    );
    pools.push(made);
    return made;
  };
  const upstreamOf = (catalog: NetworkCatalog, stacks: StackPool) =>
    new NetworkUpstream(
      {
        catalog,
        pool: stacks,
        account: wallet.account,
        chainId: devnet.anvil.chainId,
        stackManager: devnet.deployment.addresses.StackManager,
        health: new NodeHealthBook(),
      },
      { resendDelayMs: 10 },
    );
  const send = (upstream: NetworkUpstream, nodeId: bigint, maxUnits: bigint) =>
    upstream.send({
      endpoint: "chat",
      model: MODEL,
      body: { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
      stream: false,
      maxUnits,
      signal: new AbortController().signal,
      provider: parseProviderPreferences({ only: [String(nodeId)] }),
    });
  const catalogOf = (allowPrivateNodeUrls: boolean) =>
    new NetworkCatalog(readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }), {
      modelNames: [MODEL],
      nodeTimeoutMs: 200,
      allowPrivateNodeUrls,
    });

  beforeAll(async () => {
    devnet = await startDevnet();
    const { modelId } = await devnet.registerModel({ name: MODEL });
    nodes = [await devnet.addNode(), await devnet.addNode()];
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
      await setNodeUrl(node.operator, { nodeId: node.nodeId, url: i === 0 ? PUBLIC_URL : fakes[i]!.url });
      await subscribe(node.signer, {
        taskId,
        nodeId: node.nodeId,
        pricePerMillion: parseEther("1"),
        capacity: 10n ** 12n,
      });
    }
    await devnet.advance(3_600);
    const funded = await devnet.account(parseEther("100"));
    wallet = { account: funded.account, ctx: funded.ctx };
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
  }, 180_000);

  afterAll(async () => {
    for (const fake of fakes ?? []) await fake.stop();
    await opened?.close();
    await db?.dispose();
    await devnet?.stop();
  });

  // A node refusing a fresh stack as "stack_exhausted" is believed whenever the request's bound is within the
  // template slack (4,096 units) of a whole stack: the chain is not asked, the node is neither cooled down nor
  // avoided, retired stacks do not count against maxStacksPerModel, so every such request buys three stacks.
  it("does not buy stack after stack for a node that calls fresh stacks exhausted", async () => {
    const catalog = catalogOf(true);
    await catalog.refresh();
    const upstream = upstreamOf(catalog, pool(10_000n));
    scripts[1] = { kind: "refuse", status: 409, code: "stack_exhausted" };
    try {
      // 6,000 units: a request of a ~6 KB prompt, on a 10,000-unit stack (in production: a ~996 KB prompt, 1M units).
      for (let i = 0; i < 3; i++) await send(upstream, nodes[1]!.nodeId, 6_000n).catch(() => undefined);
    } finally {
      scripts[1] = { kind: "honest" };
    }
    const atNode = bought.filter((id) => id === nodes[1]!.nodeId).length;
    const retired = await opened.db
      .selectFrom("stacks")
      .select("stack_id")
      .where("state", "=", "retired")
      .execute();
    // One stack for the first request; then the node is put aside and no more is bought there.
    expect(atNode).toBe(1);
    expect(retired).toHaveLength(1);
    // The retired stack is closed on-chain, so its node settles it and the escrow comes back.
    await pools.at(-1)!.closesDone();
    const onChain = await getStack(wallet.ctx, retired[0]!.stack_id);
    expect(onChain.closedAt).toBeGreaterThan(0n);
  }, 180_000);

  // The catalog judges a node's URL (no private addresses off a dev chain), but the stack row keeps the URL read
  // from the chain at purchase (`withNode`), which the policy never sees: a node that points its URL at a private
  // address just before the gateway buys there (its catalog entry is up to refreshMs old) gets every request on
  // that stack sent to the private address, even after it points the URL back and the catalog keeps it.
  it("never sends a request to a private address when private node URLs are not allowed", async () => {
    const catalog = catalogOf(false);
    await catalog.refresh();
    expect(catalog.model(MODEL)?.tasks[0]?.nodes.map((n) => n.nodeId)).toEqual([nodes[0]!.nodeId]);
    await setNodeUrl(nodes[0]!.operator, { nodeId: nodes[0]!.nodeId, url: fakes[0]!.url });
    const upstream = upstreamOf(catalog, pool(1_000n));
    await send(upstream, nodes[0]!.nodeId, 10n).catch(() => undefined);
    // Pointed back: the catalog keeps the node, and the stack still goes to 127.0.0.1.
    await setNodeUrl(nodes[0]!.operator, { nodeId: nodes[0]!.nodeId, url: PUBLIC_URL });
    await catalog.refresh();
    await send(upstream, nodes[0]!.nodeId, 10n).catch(() => undefined);
    expect(fakes[0]!.requests).toHaveLength(0);
  }, 180_000);

  // A node commits a request the gateway signed (a 10-unit bound), withholds its receipt, and settles that leaf as
  // the rest of the stack: the watcher challenges the leaf, and the gateway's own signature cannot answer it.
  it("does not let a withheld receipt bill a whole stack for a 10-unit request unchallenged", async () => {
    const catalog = catalogOf(true);
    await catalog.refresh();
    const upstream = upstreamOf(catalog, pool(1_000n));
    const node = nodes[1]!;
    const fake = fakes[1]!;
    const first = await send(upstream, node.nodeId, 10n);
    const stackId = BigInt(first.atoma.stack_id as string);
    const seen = fake.requests.length;
    scripts[1] = { kind: "drop" };
    await expect(send(upstream, node.nodeId, 10n)).rejects.toThrow();
    scripts[1] = { kind: "honest" };
    await opened.db.updateTable("stacks").set({ state: "retired" }).where("stack_id", "=", stackId).execute();
    await closeStack(wallet.ctx, { stackId });
    const rows = await opened.db
      .selectFrom("receipts")
      .select("receipt")
      .where("stack_id", "=", stackId)
      .orderBy("leaf_index")
      .execute();
    const leaves = rows.map((row) => leafOf(receiptFromRow(row.receipt).fields));
    const nonce = BigInt(fake.envelopes[seen]!["x-atoma-nonce"]!);
    const held = leaves.at(-1)!.cumulativeUnits;
    const withheld: StackLeaf = {
      leafIndex: nonce,
      nonce,
      reqHash: requestHash(fake.requests[seen]),
      respHash: keccak256(stringToBytes("never sent")),
      units: 1_000n - held,
      cumulativeUnits: 1_000n,
    };
    const all = [...leaves, withheld];
    await submitSettlement(node.signer, {
      stackId,
      root: new StackTree(all.map(leafHash)).root,
      units: 1_000n,
      requestCount: BigInt(all.length),
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    const challenges: [string, ChallengeOutcome][] = [];
    await new OverclaimWatcher(
      {
        pool: pool(1_000n),
        chain: wallet.ctx,
        onChallenge: (kind, outcome) => challenges.push([kind, outcome]),
      },
      { watchSeconds: 86_400n },
    ).pass();
    // A claim of 1,000 units against the receipts held and one request bounded at 10 units is contested.
    expect(challenges.some(([, outcome]) => outcome === "opened" || outcome === "upheld")).toBe(true);
    // The challenged index is the withheld leaf; the node's only answer is the gateway's own signature, whose
    // signed bound (10 units) the leaf exceeds: the chain refuses it, and once the window ends the node is slashed.
    const logs = await wallet.ctx.publicClient.getContractEvents({
      address: devnet.deployment.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId },
      fromBlock: 0n,
    });
    const challenged = logs.at(-1)!.args;
    expect(challenged.leafIndex).toBe(nonce);
    const envelope = fake.envelopes[seen]!;
    expect(envelope["x-atoma-max-units"]).toBe("10");
    await expect(
      answerIndexChallenge(node.signer, {
        challengeId: challenged.challengeId!,
        leaf: withheld,
        deadline: BigInt(envelope["x-atoma-deadline"]!),
        maxUnits: BigInt(envelope["x-atoma-max-units"]!),
        ownerSignature: envelope["x-atoma-signature"] as Hex,
        proof: new StackTree(all.map(leafHash)).proof(Number(nonce)),
        previous: all[Number(nonce) - 1],
        previousProof: new StackTree(all.map(leafHash)).proof(Number(nonce) - 1),
      }),
    ).rejects.toMatchObject({ errorName: "UnitsOverSigned" });
    const watcher = new OverclaimWatcher(
      {
        pool: pool(1_000n),
        chain: wallet.ctx,
        onChallenge: (kind, outcome) => challenges.push([kind, outcome]),
      },
      { watchSeconds: 86_400n },
    );
    await watcher.pass();
    await devnet.advance(3_600);
    await watcher.pass();
    expect(challenges.at(-1)).toEqual(["index", "upheld"]);
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
  }, 180_000);
});
