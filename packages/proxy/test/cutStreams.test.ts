import { costOfUnits } from "@atoma/core";
import { formatEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import type { NetworkUpstream } from "../src/network/networkUpstream.js";
import { LONG_STREAM } from "./helpers/chatBodies.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { gatewayParts } from "./helpers/gatewayParts.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { chat } from "./helpers/testGateway.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./helpers/upstreamRig.js";

const embedded = testDatabases()[0]!;
/** The node's price; the gateway reserves at ten times it, as its default ceiling does. */
const PRICE = 10n ** 15n;
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());
/** What the fake node bills each answer. */
const ANSWER = costOfUnits(5n, PRICE);

// Review of issue 12, MEDIUM-4 and LOW-4: a stream the user stopped after its first chunk was charged the whole
// reservation (its bound at the gateway's ceiling price), which /v1/usage never showed; a stream whose receipt
// failed verification was charged the same.
describe("streams cut before their receipt", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: () => NodeScript = () => ({ kind: "honest" });
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let parts: GatewayParts;

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(nodeKey, 1n, RIG_CHAIN_ID, RIG_STACK_MANAGER, () => script());
  });
  beforeEach(async () => {
    await opened.db.deleteFrom("sealed_charges").execute();
    const { upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      { firstByteTimeoutMs: 5_000, resendDelayMs: 10, requestTimeoutMs: 60_000 },
      1_000_000n,
      { sealedCharges: new SealedCharges(opened.db), maxPricePerMillion: 10n * PRICE },
    );
    node.reset();
    parts = gatewayParts(opened, upstream);
  });
  afterAll(async () => {
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  const spentOf = async (keyId: string) => (await parts.keys.get(keyId)).spent;
  const usageSpend = async (keyId: string) =>
    (await parts.usage!.query({ keyId })).reduce((sum, row) => sum + BigInt(row.spend_wei), 0n);
  const body = LONG_STREAM;
  /** Reads the stream's first chunk, then stops it (the user pressed stop). */
  const stopAfterFirstChunk = async (app: ReturnType<typeof createGatewayApp>, key: string) => {
    const response = await chat(app, key, body);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
  };

  it("charges a stopped stream what the node's receipt for its leaf says once it comes, not its maximum", async () => {
    script = () => ({ kind: "slowChunks", delayMs: 300 });
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "stopper", budget: "1" });
    const sentBefore = node.requests.length;
    await stopAfterFirstChunk(app, key);
    // Held until the leaf's receipt comes, and shown in the usage as it is charged.
    await expect.poll(() => usageSpend(view.id), { timeout: 10_000 }).toBeGreaterThan(0n);
    // The next request on the stack reads the stopped one's leaf first: its receipt settles the held charge.
    script = () => ({ kind: "honest" });
    const next = await chat(app, key, { ...body, stream: false, max_tokens: 4 });
    expect(next.status).toBe(200);
    await expect.poll(async () => spentOf(view.id), { timeout: 10_000 }).toBe(formatEther(2n * ANSWER));
    // The usage shows what the key paid, not the whole bound the stopped stream was held at.
    expect(await usageSpend(view.id)).toBe(2n * ANSWER);
    // Its committed leaf was read, not its answer asked for again: the node saw the stream once, then the next.
    expect(node.leafReads).toEqual([{ nonce: 0n, found: true }]);
    expect(node.requests.slice(sentBefore).map((sent) => sent.stream)).toEqual([true, false]);
  });

  it("charges nothing for a stream whose receipt fails verification", async () => {
    script = () => ({ kind: "forged", signer: privateKeyToAccount(generatePrivateKey()) });
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "forged stream", budget: "1" });
    const response = await chat(app, key, body);
    await response.text();
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved).toBe("0");
    expect(await spentOf(view.id)).toBe("0");
  });

  // Review speed-gwfix B-1: the gateway's own size cap on an honest stream charged nothing and put the node aside.
  it("charges a stream cut at the gateway's size cap after text was relayed, and keeps its honest node", async () => {
    script = () => ({ kind: "bigText", bytes: 8 * 1024 * 1024 });
    const app = createGatewayApp(parts);
    const { key, view } = await parts.keys.create({ name: "long answer", budget: "1" });
    const response = await chat(app, key, body);
    const text = await response.text();
    await expect.poll(async () => (await parts.keys.get(view.id)).reserved).toBe("0");
    expect(text.length).toBeGreaterThan(1_000_000);
    expect(await spentOf(view.id)).not.toBe("0");
    expect((parts.upstream as NetworkUpstream).health.available(1n)).toBe(true);
  });

  // LOW-3: every stream ended with a chunk with no choices, include_usage or not; naive clients read choices[0].
  it("sends a chunk with no choices only when include_usage asks, the receipt on the last choice chunk otherwise", async () => {
    script = () => ({ kind: "honest" });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "plain streams", budget: "1" });
    const chunksOf = async (extra: Record<string, unknown>) => {
      const response = await chat(app, key, { ...body, max_tokens: 8, ...extra });
      const text = await response.text();
      return text
        .split("\n\n")
        .map((event) => event.replace(/^data: /, ""))
        .filter((data) => data.startsWith("{"))
        .map((data) => JSON.parse(data) as { choices: unknown[]; usage?: unknown; atoma?: unknown });
    };
    const plain = await chunksOf({});
    expect(plain.filter((chunk) => chunk.choices.length === 0)).toHaveLength(0);
    expect(plain.at(-1)).toMatchObject({ atoma: expect.any(Object), usage: expect.any(Object) });
    expect(plain.at(-1)!.choices).toHaveLength(1);
    const withUsage = await chunksOf({ stream_options: { include_usage: true } });
    const empty = withUsage.filter((chunk) => chunk.choices.length === 0);
    expect(empty).toHaveLength(1);
    expect(empty[0]).toMatchObject({ atoma: expect.any(Object), usage: expect.any(Object) });
    // An Atoma client (its atoma_nonce) reads the receipt from an event of its own.
    const atomaClient = await chunksOf({ atoma_nonce: "00".repeat(16) });
    expect(atomaClient.filter((chunk) => chunk.choices.length === 0)).toHaveLength(1);
  });
});
