import type { ChainContext } from "@atoma/chain";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { StackPool } from "../src/network/stackPool.js";
import { parseProviderPreferences } from "../src/routing/providerPreferences.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const NODES = 4;
/** Enough stacks at each node that the pool alone never forces a request elsewhere. */
const STACKS_PER_NODE = 32;

describe("load on equal nodes", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let nodes: Awaited<ReturnType<typeof startFakeNode>>[];
  let upstream: NetworkUpstream;

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    const keys = Array.from({ length: NODES }, () => privateKeyToAccount(generatePrivateKey()));
    nodes = await Promise.all(
      keys.map((key, i) =>
        startFakeNode(key, BigInt(i + 1), CHAIN_ID, STACK_MANAGER, () => ({ kind: "honest", delayMs: 100 })),
      ),
    );
    // Node 1 is a little cheaper than the others.
    const prices = nodes.map((_, i) => (i === 0 ? 99n : 100n));
    const model = oneTaskModel(
      nodes.map((node, i) => ({
        nodeId: BigInt(i + 1),
        url: node.url,
        signer: keys[i]!.address,
        pricePerMillion: prices[i]!,
      })),
    );
    let stackId = 0n;
    for (const [i, node] of nodes.entries())
      for (let s = 0; s < STACKS_PER_NODE; s++)
        await opened.db
          .insertInto("stacks")
          .values({
            stack_id: ++stackId,
            model: model.modelId,
            task_id: 1n,
            node_id: BigInt(i + 1),
            node_url: node.url,
            node_signer: keys[i]!.address,
            units: 100_000n,
            price_per_million: prices[i]!,
            expires_at: BigInt(Math.floor(Date.now() / 1000) + 3_600),
            created_at_ms: Date.now(),
          })
          .execute();
    upstream = new NetworkUpstream({
      catalog: {
        models: () => [model],
        model: (name) => (name === "tiny" ? model : undefined),
        allowsPrivateNodeUrls: true,
      },
      pool: new StackPool(
        { db: opened.db, chain: {} as ChainContext },
        { maxPricePerMillion: 100n, unitsPerStack: 100_000n, maxStacksPerModel: NODES * STACKS_PER_NODE },
      ),
      account: privateKeyToAccount(generatePrivateKey()),
      chainId: CHAIN_ID,
      stackManager: STACK_MANAGER,
    });
  });
  afterAll(async () => {
    for (const node of nodes ?? []) await node.stop();
    await opened?.close();
    await db?.dispose();
  });

  const burst = async (provider?: Record<string, unknown>) => {
    const answers = await Promise.all(
      Array.from({ length: 32 }, () =>
        upstream.send({
          endpoint: "chat",
          model: "tiny",
          body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
          stream: false,
          maxUnits: 100n,
          signal: new AbortController().signal,
          ...(provider && { provider: parseProviderPreferences(provider) }),
        }),
      ),
    );
    const perNode = new Map<bigint, number>();
    for (const answer of answers) perNode.set(answer.nodeId, (perNode.get(answer.nodeId) ?? 0) + 1);
    return perNode;
  };

  it("spreads 32 concurrent requests over the nodes, not all on the cheapest", async () => {
    const perNode = await burst();
    expect(perNode.size).toBe(NODES);
    expect(perNode.get(1n)).toBeLessThanOrEqual(12);
    for (const count of perNode.values()) expect(count).toBeGreaterThanOrEqual(4);
  });

  it("puts them all on the cheapest only when the request asks to sort by price", async () => {
    expect([...(await burst({ sort: "price" })).entries()]).toEqual([[1n, 32]]);
  });
});
