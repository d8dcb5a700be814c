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
/** The deadline the gateway signs requests with (s), and the grace after it (ms). */
const DEADLINE_S = 1;
const GRACE_MS = 500;

// Review 3 of h-gw, HIGH-3: the strike of a node still answering 409 `request_in_flight` past a pending request's
// deadline and grace measured the deadline of the request as it stood, and the SDK signs a pending request again with a
// new deadline when the node answers it 401 `request_expired`. A node answered 409 until the deadline passed, then the
// leaf read with a 5xx (so the request is resent), the resend 401 `request_expired` (so it is signed again, its deadline
// renewed), and the renewed one 409 again: never struck, the stack's next nonce held for ever. The cutoff now runs from
// the deadline the request was first signed with at its nonce (as this process saw it), whatever it was signed with since.
describe("a node that answers request_in_flight, then calls the request expired to have it signed again", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: NodeScript = { kind: "honest" };
  const lies: { leafReadStatus?: number; expiredFirst?: boolean } = {};
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
      {
        firstByteTimeoutMs: 5_000,
        resendDelayMs: 10,
        requestTimeoutMs: 60_000,
        cutLimit: 100,
        deadlineSeconds: DEADLINE_S,
        inFlightGraceMs: GRACE_MS,
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

  const plain = { model: "tiny", messages: [{ role: "user", content: "again" }], max_tokens: 4 };
  const stackState = async () =>
    (
      await opened.db
        .selectFrom("stacks")
        .select("state")
        .where("stack_id", "=", 1n)
        .executeTakeFirstOrThrow()
    ).state;

  it("strikes the node from the first deadline signed, whatever deadline the request was signed again with", async () => {
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "stuck", budget: "1" });
    script = { kind: "cutThenFinish", finishMs: 600_000 };
    const cut = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 400,
      stream: true,
    });
    expect(await cut.text()).toContain("Hel");
    script = { kind: "honest" };
    // Within the deadline: the node may still be finishing; nothing is struck.
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    expect(nodeErrors).toEqual([]);

    // Deadlines are whole seconds: a second more than the grace past the deadline, wherever in its second it fell.
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_S * 1000 + GRACE_MS + 1_600));
    lies.leafReadStatus = 503;
    lies.expiredFirst = true;
    expect((await chat(app, key, plain)).status).toBeGreaterThanOrEqual(500);
    // The request was signed again (its deadline renewed) and answered 409 again.
    const deadlines = new Set(
      node.envelopes.filter((e) => e["x-atoma-nonce"] === "0").map((e) => e["x-atoma-deadline"]),
    );
    expect(deadlines.size).toBeGreaterThan(1);
    expect(nodeErrors).toContain("1:in_flight_past_deadline");
    expect(await stackState()).toBe("retired");
    expect(upstream.health.available(1n)).toBe(false);
  }, 60_000);
});
