import type { ChainContext } from "@atoma/chain";
import { costOfUnits, STACK_HEADERS } from "@atoma/core";
import type { KyselyPlugin } from "kysely";
import { parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { NetworkUpstream } from "../src/network/networkUpstream.js";
import { StackPool } from "../src/network/stackPool.js";
import { NodeHealthBook } from "../src/routing/nodeHealthBook.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { testDatabases } from "./helpers/testDatabases.js";

/**
 * The request path on a stack the gateway holds runs no database statement (each one is milliseconds of PGlite on
 * the gateway's only thread): receipts, progress and signed requests go to the journal, and a held sealed charge is
 * looked for only when a resent request's receipt comes, the one receipt that can settle one. Counted at Kysely,
 * so every statement of the pool, the journal and the sealed charges is seen.
 */
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = parseEther("1");
const MAX_UNITS = 100n;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());

describe("the gateway's request path on a held stack", () => {
  const made = testDatabases()[0]!.make();
  let opened: OpenedDatabase;
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let plan: NodeScript = { kind: "honest" };
  let statements = 0;
  const counting: KyselyPlugin = {
    transformQuery: (args) => {
      statements++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  let flusher: JournalFlusher;
  let upstream: NetworkUpstream;
  const send = () =>
    upstream.send({
      endpoint: "chat",
      model: "tiny",
      body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
      stream: false,
      maxUnits: MAX_UNITS,
      signal: new AbortController().signal,
    });
  /** Statements `run` issued. */
  const counted = async (run: () => Promise<unknown>) => {
    const before = statements;
    await run();
    return statements - before;
  };

  beforeAll(async () => {
    opened = await openGatewayDatabase(made.config);
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, () => plan);
    const db = opened.db.withPlugin(counting);
    flusher = await JournalFlusher.open(db);
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
        sealedCharges: new SealedCharges(db, { flush: () => flusher.flush() }),
        account: gateway,
        chainId: CHAIN_ID,
        stackManager: STACK_MANAGER,
        health: new NodeHealthBook(),
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

  it("runs no statement once the stack is held, and loses nothing: the journal applies it all later", async () => {
    // The first request takes the stack from the database to hold.
    expect(await counted(send)).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(await counted(send)).toBe(0);
    expect(flusher.journal.pendingCount).toBeGreaterThan(0);
    await flusher.flush();
    const receipts = await opened.db.selectFrom("receipts").select("leaf_index").execute();
    expect(receipts.map((r) => r.leaf_index).sort()).toEqual([0n, 1n, 2n, 3n, 4n, 5n]);
    expect(
      await opened.db.selectFrom("stacks").select(["units_used", "next_nonce"]).executeTakeFirstOrThrow(),
    ).toEqual({ units_used: 30n, next_nonce: 6n });
  });

  // A sealed stream cut after its text reached the client holds the key's whole reservation for its leaf; only the
  // resend of that signed request can bring the leaf's receipt, and it still settles the charge: a node cannot make
  // the key pay the bound by answering the resend.
  it("still settles a held sealed charge with the resent request's receipt, at the receipt's units", async () => {
    const keys = new KeyStore(opened.db, Date.now);
    const ledger = new SpendLedger(opened.db, { sliceIdleMs: 0 });
    const charges = new SealedCharges(opened.db);
    const { view } = await keys.create({ name: "cut" });
    const charged = costOfUnits(MAX_UNITS, PRICE);
    await ledger.settle(await ledger.reserve(view.id, charged), charged);
    // The node takes the request and drops the connection: it stays pending, with no receipt.
    plan = { kind: "drop" };
    await expect(send()).rejects.toThrow();
    const nonce = BigInt(node.envelopes.at(-1)?.[STACK_HEADERS.nonce] ?? "");
    await charges.hold({
      keyId: view.id,
      stackId: 1n,
      nonce,
      maxUnits: MAX_UNITS,
      pricePerMillion: PRICE,
      chargedWei: charged,
    });
    plan = { kind: "honest" };
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The next request resends that one first: its receipt settles the held charge (statements, as it must).
    expect(await counted(send)).toBeGreaterThan(0);
    expect(await opened.db.selectFrom("sealed_charges").selectAll().execute()).toEqual([]);
    const { spent_wei } = await opened.db
      .selectFrom("api_keys")
      .select("spent_wei")
      .where("key_id", "=", view.id)
      .executeTakeFirstOrThrow();
    expect(spent_wei).toBe(costOfUnits(5n, PRICE));
    // Back to requests signed afresh: none again.
    expect(await counted(send)).toBe(0);
  });
});
