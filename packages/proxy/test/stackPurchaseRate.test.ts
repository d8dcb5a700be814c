import { type ChainContext, createTask, setNodeUrl, subscribe, TaskRole } from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { TaskSecurityLevel } from "@atoma/contracts";
import { readContext } from "@atoma/sdk";
import { type LocalAccount, parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { StackPool } from "../src/network/stackPool.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const MODEL = "tiny";

// Amplification through purchases: stacks with less room than a request's bound do not count against
// maxStacksPerModel, so a key whose requests are bounded near a whole stack (a large prompt) makes the gateway buy a
// fresh stack (a transaction, a whole stack's escrow) for each request, however little each one uses.
describe("stacks bought for one key's requests", () => {
  let devnet: Devnet;
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let wallet: { account: LocalAccount; ctx: ChainContext };
  let node: DevNode;
  let fake: Awaited<ReturnType<typeof startFakeNode>>;
  const bought: bigint[] = [];

  beforeAll(async () => {
    devnet = await startDevnet();
    const { modelId } = await devnet.registerModel({ name: MODEL });
    node = await devnet.addNode();
    fake = await startFakeNode(
      node.signerAccount,
      node.nodeId,
      devnet.anvil.chainId,
      devnet.deployment.addresses.StackManager,
      () => ({ kind: "honest" }),
    );
    const { taskId } = await createTask(devnet.admin, {
      modelId,
      role: TaskRole.Chat,
      securityLevel: TaskSecurityLevel.None,
    });
    await setNodeUrl(node.operator, { nodeId: node.nodeId, url: fake.url });
    await subscribe(node.signer, {
      taskId,
      nodeId: node.nodeId,
      pricePerMillion: parseEther("1"),
      capacity: 10n ** 12n,
    });
    await devnet.advance(3_600);
    const funded = await devnet.account(parseEther("100"));
    wallet = { account: funded.account, ctx: funded.ctx };
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
  }, 180_000);
  afterAll(async () => {
    await fake?.stop();
    await opened?.close();
    await db?.dispose();
    await devnet?.stop();
  });

  it("buys at most stackPurchasesPerKey stacks a minute for one key, and still for another", async () => {
    const catalog = new NetworkCatalog(
      readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }),
      {
        modelNames: [MODEL],
        nodeTimeoutMs: 200,
        allowPrivateNodeUrls: true,
      },
    );
    await catalog.refresh();
    const pool = new StackPool(
      { db: opened.db, chain: wallet.ctx, onBought: (nodeId) => bought.push(nodeId) },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: 10_000n,
        durationSeconds: 86_400n,
        maxStacksPerModel: 8,
        waitMs: 200,
      },
    );
    const upstream = new NetworkUpstream(
      {
        catalog,
        pool,
        account: wallet.account,
        chainId: devnet.anvil.chainId,
        stackManager: devnet.deployment.addresses.StackManager,
        health: new NodeHealthBook(),
      },
      { resendDelayMs: 10, stackPurchasesPerKey: 2 },
    );
    // Each request may use 9,996 of a 10,000-unit stack (it uses 5): no stack it used has room for the next.
    const send = (keyId: string) =>
      upstream.send({
        keyId,
        endpoint: "chat",
        model: MODEL,
        body: { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
        stream: false,
        maxUnits: 9_996n,
        signal: new AbortController().signal,
      });
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++)
      outcomes.push(
        await send("greedy").then(
          () => "served",
          (error: { code?: string }) => error.code ?? "failed",
        ),
      );
    expect(bought).toHaveLength(2);
    expect(outcomes.slice(0, 2)).toEqual(["served", "served"]);
    expect(outcomes.slice(2)).toEqual(["no_node_available", "no_node_available", "no_node_available"]);
    // Another key's request still has a stack bought for it.
    await send("other");
    expect(bought).toHaveLength(3);
  }, 120_000);
});
