import { silentLogger } from "@atoma/core";
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

// Review 3 of h-gw, MEDIUM-5: a plain (not streamed) request whose connection broke while the node still had it in
// flight is read first by the stack's next request, as a cut stream is, and was recorded as a cut of no chunks: the
// honest node finishing it billed prompt and completion, far above the body's bytes, and each such leaf was counted as
// an over-billed cut (two in ten minutes put the node aside). Nothing was relayed of it, so nothing bounds it: only a
// stream that carried chunks is compared with its leaf.
describe("an honest node finishing plain requests whose connections broke", () => {
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
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, () => script, { strictNonces: true });
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      {
        firstByteTimeoutMs: 5_000,
        resendDelayMs: 10,
        requestTimeoutMs: 60_000,
        cutLimit: 100,
        overbilledCutLimit: 2,
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

  it("never counts the leaf it finished as an over-billed cut", async () => {
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "dropped", budget: "1" });
    for (let round = 0; round < 3; round++) {
      script = { kind: "dropThenFinish", finishMs: 300, completionTokens: 200 };
      const failed = await chat(app, key, {
        model: "tiny",
        messages: [{ role: "user", content: `long ${round}` }],
        max_tokens: 400,
      });
      expect(failed.status).toBe(502);
      await new Promise((resolve) => setTimeout(resolve, 400));
      script = { kind: "honest" };
      const next = await chat(app, key, {
        model: "tiny",
        messages: [{ role: "user", content: `next ${round}` }],
        max_tokens: 4,
      });
      expect(next.status).toBe(200);
      expect(node.leafReads.at(-1)?.found).toBe(true);
    }
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
  });
});
