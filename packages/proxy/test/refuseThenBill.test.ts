import { costOfUnits, silentLogger } from "@atoma/core";
import { formatEther } from "viem";
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
const nodeKeys = [privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey())];

// Refuse-then-bill (review B-4): a node ends a stream with an error answer (it failed, it says), yet it committed the
// leaf, and hands its receipt over when the gateway resends the request before the stack's next one: the key was
// charged for an answer it never got, and the node kept its place.
describe("a node that answers a stream with an error and bills its leaf", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const scripts: NodeScript[] = [{ kind: "honest" }, { kind: "honest" }];
  let nodes: Awaited<ReturnType<typeof startFakeNode>>[];
  let parts: GatewayParts;
  let upstream: NetworkUpstream;
  /** `nodeId:code` of every failure the gateway counted against a node. */
  const nodeErrors: string[] = [];

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    nodes = await Promise.all(
      nodeKeys.map((key, i) =>
        startFakeNode(key, BigInt(i + 1), CHAIN_ID, STACK_MANAGER, (body) =>
          body.stream === true ? scripts[i]! : { kind: "honest" },
        ),
      ),
    );
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      nodes.map((node, i) => ({ url: node.url, signer: nodeKeys[i]!, price: PRICE * BigInt(i + 1) })),
      { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000 },
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
    for (const node of nodes ?? []) await node.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("charges nothing for the failed stream, and puts aside the node that bills the leaf it said failed", async () => {
    scripts[0] = { kind: "errorMidStream", code: "internal_error" };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "victim", budget: "1" });
    const response = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    const text = await response.text();
    expect(text).toContain("error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // The stack's next request: the failed one is not resent (an honest node would generate it all again), its nonce
    // goes to this one, and the node, which committed the failed one there, shows a running total that includes it.
    scripts[0] = { kind: "honest" };
    const ask = () =>
      chat(app, key, { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 });
    let next = await ask();
    if (next.status !== 200) {
      expect(await next.json()).toMatchObject({ error: { code: expect.any(String) } });
      next = await ask();
    }
    expect(next.status).toBe(200);
    const served = Number(next.headers.get("x-atoma-node"));
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    // The key pays the answer it got, and nothing for the one the node said failed.
    const answer = costOfUnits(5n, PRICE * BigInt(served));
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(answer));
    // The node billed a leaf for a request it answered with an error: out of rotation, its receipt kept.
    expect(upstream.health.isRemoved(1n)).toBe(true);
    // Its running total at that leaf (the next request's) counts the failed request: the receipt is refused.
    expect(nodeErrors).toContain("1:receipt_running_total");
    const kept = await opened.db.selectFrom("receipts").where("stack_id", "=", 1n).selectAll().execute();
    expect(kept.length).toBeGreaterThan(0);
  });

  it("charges nothing for a stream an honest node failed, and keeps the node, whose next request takes the nonce", async () => {
    // Node 1 out of rotation since the test above: this one is about node 2, honest, failing once mid-stream.
    scripts[1] = { kind: "errorMidStream", code: "internal_error", commits: false };
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "unlucky", budget: "1" });
    const failed = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    expect(await failed.text()).toContain("internal_error");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect((await parts.keys.get(view.id)).spent).toBe("0");
    scripts[1] = { kind: "honest" };
    const before = nodes[1]!.requests.length;
    const next = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 4,
    });
    expect(next.status).toBe(200);
    expect(next.headers.get("x-atoma-node")).toBe("2");
    // Not resent first: the node is asked only the new request, at the failed one's nonce.
    expect(nodes[1]!.requests.length - before).toBe(1);
    expect(upstream.health.isRemoved(2n)).toBe(false);
    await expect
      .poll(async () => (await parts.keys.get(view.id)).spent, { timeout: 5_000 })
      .toBe(formatEther(costOfUnits(5n, 2n * PRICE)));
  });
});
