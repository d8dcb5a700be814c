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

// Review 3 of h-gw, MEDIUM-4: a node's 404 `leaf_not_found` is unsigned. A node cut a stream, committed its leaf at the
// whole signed bound, and answered the leaf read "no leaf": the gateway freed the nonce and settled the key's hold at its
// floor. The node then called the nonce used for the next request there and showed the freed request's leaf, which the
// gateway took as another client's (adopted, no answer to check) and paid up to the bound. A nonce freed on the node's
// word is now remembered with its request's hash: the freed request's leaf shown later is the node billing what it said
// it never committed (refuse-then-bill), and it leaves rotation.
describe("a node that calls a cut request's leaf missing, then shows it", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: NodeScript = { kind: "honest" };
  const lies: { leafNotFound?: number; dropRequests?: number } = {};
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
      { strictNonces: true, lies },
    );
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

  it("takes the node out of rotation when the freed request's leaf turns up", async () => {
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "lied-to", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: 300, bills: "bound" };
    const cut = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    expect(await cut.text()).toContain("Hel");
    await new Promise((resolve) => setTimeout(resolve, 400));
    script = { kind: "honest" };
    // The leaf read is told "no leaf", and the request then signed at the freed nonce never reaches the node (each of
    // its sends dropped): it stays pending, and the next request resends it first.
    lies.leafNotFound = 1;
    lies.dropRequests = 3;
    const dropped = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "dropped" }],
      max_tokens: 4,
    });
    expect(dropped.status).toBeGreaterThanOrEqual(500);
    expect(lies.dropRequests).toBe(0);
    // That resend is called `nonce_reused`, and the leaf read now shows the freed request's leaf.
    const next = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "next" }],
      max_tokens: 4,
    });
    await next.text();
    expect(node.leafReads.map((read) => read.found)).toEqual([true, true]);
    expect(nodeErrors).toContain("1:billed_error_answer");
    expect(upstream.health.isRemoved(1n)).toBe(true);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
  });
});
