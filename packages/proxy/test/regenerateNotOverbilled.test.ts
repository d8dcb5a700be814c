import type { AddressInfo } from "node:net";
import { silentLogger } from "@atoma/core";
import { serve } from "@hono/node-server";
import OpenAI from "openai";
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
/** A whole answer far above the body's bytes: an honest receipt for it bills far more than a stopped stream carried. */
const PIECES = 300;

// Review 3 of h-gw, HIGH-2: "Stop generating" then "Regenerate" sends the same body again. The stopped stream's leaf
// read finds nothing (the honest node stopped and recorded nothing), its nonce goes to the regenerate, signed afresh
// with the same body, so the same request hash: its honest full receipt was compared with the stopped stream's few
// chunks and counted as an over-billed cut. Twice in ten minutes put the honest node aside (`overbilled_cuts`). Only
// the cut request's own leaf (read, resent, or adopted) is compared now.
describe("an honest node whose stopped streams are regenerated", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const seen = { begun: 0, stopped: 0, finished: 0 };
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let parts: GatewayParts;
  let upstream: NetworkUpstream;
  let server: ReturnType<typeof serve>;
  let baseURL: string;
  const nodeErrors: string[] = [];

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, (body) =>
      body.stream === true ? { kind: "generate", pieces: PIECES, delayMs: 5, seen } : { kind: "honest" },
    );
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
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
    const app = createGatewayApp(parts);
    server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
    });
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
    await new Promise((resolve) => server?.close(resolve));
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("never counts the regenerated answer's receipt as an over-billed cut", async () => {
    const { key, view } = await parts.keys.create({ name: "regenerator", budget: "1000" });
    const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
    for (let round = 0; round < 3; round++) {
      const body = {
        model: "tiny",
        messages: [{ role: "user" as const, content: `round ${round}` }],
        max_tokens: 400,
        stream: true as const,
      };
      let delivered = 0;
      for await (const chunk of await client.chat.completions.create(body)) {
        delivered += chunk.choices[0]?.delta.content?.length ?? 0;
        if (delivered >= 3) break;
      }
      await expect.poll(() => seen.stopped, { timeout: 5_000 }).toBe(round + 1);
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
      let text = "";
      for await (const chunk of await client.chat.completions.create(body))
        text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe("w".repeat(PIECES));
      await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    }
    expect(node.leafReads.every((read) => !read.found)).toBe(true);
    expect(seen.finished).toBe(3);
    expect(nodeErrors).toEqual([]);
    expect(upstream.health.available(1n)).toBe(true);
  });
});

// The same with refuse-then-bill: a stream the node fails honestly (an error event, nothing committed) gives its nonce
// to the stack's next request. A client retrying the very same body there gets the same request hash at the same leaf,
// and its honest receipt was taken for the node billing the request it said failed: the node left rotation. Only the
// failed request's leaf shown as another's (adopted) is that now.
describe("an honest node whose failed stream's body is sent again", () => {
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
    node = await startFakeNode(nodeKey, 1n, CHAIN_ID, STACK_MANAGER, (body) =>
      body.stream === true ? script : { kind: "honest" },
    );
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
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
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("keeps the node in rotation when the retry's receipt lands at the failed request's leaf", async () => {
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "retrier", budget: "1" });
    const body = {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    };
    script = { kind: "errorMidStream", code: "internal_error", commits: false };
    expect(await (await chat(app, key, body)).text()).toContain("internal_error");
    script = { kind: "honest" };
    const retry = await chat(app, key, body);
    expect(retry.status).toBe(200);
    expect(await retry.text()).toContain("[DONE]");
    expect(node.requests.length).toBe(2);
    // The failed stream is counted as the node's error (it failed); billing what it failed, it did not.
    expect(nodeErrors).not.toContain("1:billed_error_answer");
    expect(upstream.health.isRemoved(1n)).toBe(false);
  });
});
