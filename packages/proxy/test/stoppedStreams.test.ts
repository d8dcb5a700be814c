import type { AddressInfo } from "node:net";
import { costOfUnits, silentLogger } from "@atoma/core";
import { serve } from "@hono/node-server";
import OpenAI from "openai";
import { formatEther, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { UsageBook } from "../src/usage/usageBook.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
const CHAIN_ID = 31_337;
const STACK_MANAGER = `0x${"5a".repeat(20)}` as const;
const PRICE = 10n ** 15n;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKeys = [privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey())];
/** The whole answer the generating node makes: 300 one-token chunks. */
const PIECES = 300;

// A stream its client stops (an OpenAI client aborting mid-answer) must stop the work upstream and bill only what was
// delivered: the node stops generating and records nothing, so the pending request's resend before the stack's next
// one has it generate the whole answer again, and the key was charged that whole answer it never got.
describe("streams their OpenAI client stops", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const seen = { begun: 0, stopped: 0, finished: 0 };
  const scripts: NodeScript[] = [{ kind: "generate", pieces: PIECES, delayMs: 20, seen }, { kind: "honest" }];
  let nodes: Awaited<ReturnType<typeof startFakeNode>>[];
  let parts: GatewayParts;
  let server: ReturnType<typeof serve>;
  let baseURL: string;

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
    const { upstream } = await upstreamRig(
      opened,
      gateway,
      nodes.map((node, i) => ({ url: node.url, signer: nodeKeys[i]!, price: PRICE * BigInt(i + 1) })),
      { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000 },
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
    const app = createGatewayApp(parts);
    server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(started));
    });
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
    await new Promise((resolve) => server?.close(resolve));
    for (const node of nodes ?? []) await node.stop();
    await opened?.close();
    await db?.dispose();
  });

  it("stops the node's work when the client aborts, and bills only what was delivered", async () => {
    const { key, view } = await parts.keys.create({ name: "stopper", budget: "1000" });
    const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    let delivered = 0;
    for await (const chunk of stream) {
      delivered += chunk.choices[0]?.delta.content?.length ?? 0;
      if (delivered >= 3) break;
    }
    // Leaving the loop aborts the request: the node stops generating, and no other node is asked for it.
    await expect.poll(() => seen.stopped, { timeout: 5_000 }).toBe(1);
    expect(seen.finished).toBe(0);
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    expect(nodes[1]!.requests.filter((body) => body.stream === true)).toHaveLength(0);
    // The key's next request (same stack): whatever happens to the stopped one's leaf, the key pays for the
    // answer it got, not a whole one generated again after it left.
    const next = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "again" }],
      max_tokens: 4,
    });
    expect(next.choices[0]?.message.content).toBe("fake");
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved, { timeout: 5_000 }).toBe("0");
    const spent = parseEther((await parts.keys.get(view.id)).spent);
    const whole = costOfUnits(BigInt(3 + PIECES), PRICE);
    const plainAnswer = costOfUnits(5n, PRICE);
    expect(formatEther(spent)).not.toBe("0");
    expect(spent - plainAnswer).toBeLessThan(whole);
    // The node regenerated the stopped answer in full at most once more (the resend), never for another node.
    expect(seen.begun).toBeLessThanOrEqual(2);
  });
});
