import type { ChainContext } from "@atoma/chain";
import type { KyselyPlugin } from "kysely";
import { parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { StackPool } from "../src/network/stackPool.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { testDatabases } from "./helpers/testDatabases.js";

const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = parseEther("1");
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());

/**
 * The counts against nodes, first deadlines, freed leaves and cut requests kept in the database (`strikesDb`, as
 * `startGateway` wires it) add no statement to the request path on a held stack: they are written when a node cuts,
 * over-bills, answers 409 or frees a leaf, and read back only when a stack has requests pending.
 */
describe("the request path with the counts against nodes kept in the database", () => {
  const made = testDatabases()[0]!.make();
  let opened: OpenedDatabase;
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let statements = 0;
  const counting: KyselyPlugin = {
    transformQuery: (args) => {
      statements++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  let upstream: NetworkUpstream;
  const send = () =>
    upstream.send({
      endpoint: "chat",
      model: "tiny",
      body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
      stream: false,
      maxUnits: 100n,
      signal: new AbortController().signal,
    });

  beforeAll(async () => {
    opened = await openGatewayDatabase(made.config);
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, () => ({ kind: "honest" }));
    const db = opened.db.withPlugin(counting);
    const flusher = await JournalFlusher.open(db);
    const pool = new StackPool(
      { db, chain: {} as ChainContext, journal: flusher },
      { maxPricePerMillion: PRICE, unitsPerStack: 1_000n, maxStacksPerModel: 1, waitMs: 200 },
    );
    const model = oneTaskModel([
      { nodeId: 1n, url: node.url, signer: nodeKey.address, pricePerMillion: PRICE },
    ]);
    upstream = new NetworkUpstream(
      {
        catalog: { models: () => [model], model: () => model, allowsPrivateNodeUrls: true },
        pool,
        account: gateway,
        chainId: CHAIN_ID,
        stackManager: STACK_MANAGER,
        health: new NodeHealthBook(),
        strikesDb: db,
      },
      { firstByteTimeoutMs: 10_000, cooldownMs: 1, resends: 0 },
    );
    await opened.db
      .insertInto("stacks")
      .values({
        stack_id: 1n,
        model: model.modelId,
        task_id: 1n,
        node_id: 1n,
        node_url: node.url,
        node_signer: nodeKey.address,
        units: 1_000n,
        price_per_million: PRICE,
        expires_at: BigInt(Math.floor(Date.now() / 1000)) + 3_600n,
        created_at_ms: Date.now(),
      })
      .execute();
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
    await opened?.close();
    await made.dispose();
  });

  it("runs no statement once the stack is held", async () => {
    await send();
    for (let i = 0; i < 5; i++) {
      const before = statements;
      await send();
      expect(statements - before).toBe(0);
    }
  });
});
