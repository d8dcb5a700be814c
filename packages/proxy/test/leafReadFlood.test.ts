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
import { startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { chat } from "./helpers/testGateway.js";
import { upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());

/** What the node sends at most for one leaf read: far above any leaf's receipt and request. */
const FLOOD_BYTES = 16 * 1024 * 1024;

// Review 3 of h-gw, MEDIUM-6: a leaf read made to adopt another client's leaf (the node called the nonce used) or to
// audit one uses no answer, yet it was read up to 64 MiB past the leaf's receipt and request, whatever the request's own
// caps: a node calling nonce after nonce used had the gateway buffer 64 MiB for each. Such a read now asks the node to
// leave the answer out (`?answer=0`) and reads at most the receipt and request's 16 KiB.
describe("a node that calls a nonce used and floods the leaf read that follows", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const pulled = { bytes: 0 };
  const lies = { claimReused: true, leafReadFlood: { bytes: FLOOD_BYTES, pulled } };
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let parts: GatewayParts;
  let upstream: NetworkUpstream;
  const nodeErrors: string[] = [];

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, () => ({ kind: "honest" }), {
      strictNonces: true,
      lies,
    });
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000, cutLimit: 100 },
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

  it("reads no more of the leaf than its receipt and request", async () => {
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "flooded", budget: "1" });
    const answer = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
    });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    await answer.text();
    expect(node.leafReads.length).toBeGreaterThan(0);
    // What the node pushed before the gateway stopped reading: the leaf's 16 KiB and the sockets' buffers, never the flood.
    expect(pulled.bytes).toBeLessThan(4 * 1024 * 1024);
  });
});
