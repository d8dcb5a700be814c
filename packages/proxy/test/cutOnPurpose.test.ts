import { costOfUnits, silentLogger } from "@atoma/core";
import { parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import type { NetworkUpstream } from "../src/network/networkUpstream.js";
import { UsageBook } from "../src/usage/usageBook.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { chat } from "./helpers/testGateway.js";
import { upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
/** Cuts in the window before the node is put aside (`cutLimit`). */
const CUT_LIMIT = 3;

// Review of h-gw, HIGH-4: a node sends one chunk, drops the connection, answers the resends 409 request_in_flight, then
// commits a leaf billing the owner's whole signed bound (its usage made up to match). The gateway took each such cut for an honest one: no error,
// no cooldown, no strike, and the key was charged the whole bound for a chunk, read from the leaf (no answer bytes, so
// no units-against-usage fraud proof). A cut still costs an honest node nothing once; cut after cut puts it aside, and
// the key pays at most what the stream could have delivered.
describe("a node that cuts streams on purpose and bills their leaves up to the bound", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: NodeScript = { kind: "honest" };
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let parts: GatewayParts;
  let upstream: NetworkUpstream;
  const nodeErrors: string[] = [];

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(
      nodeKey,
      1n,
      CHAIN_ID,
      STACK_MANAGER,
      (body) => (body.stream === true ? script : { kind: "honest" }),
      { strictNonces: true },
    );
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      // Its leaves' over-billing is `overbilledCuts.test.ts`'s: here only the cuts count.
      {
        firstByteTimeoutMs: 5_000,
        resendDelayMs: 10,
        requestTimeoutMs: 60_000,
        cutLimit: CUT_LIMIT,
        overbilledCutLimit: 100,
      },
      1_000_000n,
      {
        sealedCharges: new SealedCharges(opened.db),
        onNodeError: (nodeId, code) => nodeErrors.push(`${nodeId}:${code}`),
      },
    ));
    parts = {
      keys: new KeyStore(opened.db, Date.now),
      ledger: new SpendLedger(opened.db, { sliceRequests: 1, sliceIdleMs: 0 }),
      limiter: new RateLimiter(),
      upstream,
      usage: new UsageBook(opened.db),
      logger: silentLogger,
      now: Date.now,
      bounds: { defaultMaxTokens: 16, maxCompletionTokens: 400 },
    };
  });
  afterAll(async () => {
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  const streamBody = {
    model: "tiny",
    messages: [{ role: "user", content: "hi" }],
    max_tokens: 400,
    stream: true,
  };
  const plain = { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 };

  it("charges the key at most what a cut stream delivered, and puts the node aside after repeated cuts", async () => {
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "cut", budget: "1" });
    let paidBefore = 0n;
    for (let cut = 1; cut <= CUT_LIMIT; cut++) {
      script = { kind: "cutThenFinish", finishMs: 600, bills: "fabricated" };
      const response = await chat(app, key, streamBody);
      expect(await response.text()).toContain("Hel");
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      // One cut is what a broken connection looks like: no fault of the node's yet.
      if (cut < CUT_LIMIT) expect(nodeErrors).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 700));
      if (cut === CUT_LIMIT) break;
      script = { kind: "honest" };
      // The next request reads the cut one's leaf, which bills the whole signed bound.
      expect((await chat(app, key, plain)).status).toBe(200);
      expect(node.leafReads.at(-1)?.found).toBe(true);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      const paid = parseEther((await parts.keys.get(view.id)).spent);
      // The cut stream relayed two chunks: the key pays no more than its signed body's bytes and those chunks (and
      // the answer it then got), far below the bound the node billed.
      expect(paid - paidBefore).toBeLessThan(costOfUnits(150n, PRICE));
      paidBefore = paid;
    }
    // The node billed its leaves up to their bounds: the gateway pays that, not the key.
    expect(node.billed(1n)).toBeGreaterThan(1_000n);
    // Cut after cut: the node is counted against and put aside.
    expect(nodeErrors).toContain("1:repeated_cuts");
    expect(upstream.health.available(1n)).toBe(false);
  });
});

// Review of h-gw, MEDIUM-2: the leaf read ran outside the first-byte timer (30 s of its own), so a node that stalled
// it held each request on a stack with a cut request for 30 s, blamelessly.
describe("a node that stalls the leaf read of a cut request", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: NodeScript = { kind: "honest" };
  const stall = { on: false };
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let parts: GatewayParts;

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(
      nodeKey,
      1n,
      CHAIN_ID,
      STACK_MANAGER,
      (body) => (body.stream === true ? script : { kind: "honest" }),
      { strictNonces: true, stallLeafReads: stall },
    );
    const { upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      { firstByteTimeoutMs: 1_000, resendDelayMs: 10, requestTimeoutMs: 60_000 },
      1_000_000n,
      { sealedCharges: new SealedCharges(opened.db) },
    );
    parts = {
      keys: new KeyStore(opened.db, Date.now),
      ledger: new SpendLedger(opened.db, { sliceRequests: 1, sliceIdleMs: 0 }),
      limiter: new RateLimiter(),
      upstream,
      usage: new UsageBook(opened.db),
      logger: silentLogger,
      now: Date.now,
      bounds: { defaultMaxTokens: 16, maxCompletionTokens: 400 },
    };
  });
  afterAll(async () => {
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("gives the read up after the first-byte timeout, not 30 s", async () => {
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "stalled", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: 300 };
    const cut = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    expect(await cut.text()).toContain("Hel");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    await new Promise((resolve) => setTimeout(resolve, 400));
    script = { kind: "honest" };
    stall.on = true;
    const startedAt = Date.now();
    const next = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 4,
    });
    await next.text();
    expect(node.leafReads.length).toBeGreaterThan(0);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  }, 60_000);
});
