import { silentLogger } from "@atoma/core";
import OpenAI from "openai";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../src/gateway/gatewayParts.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import type { NetworkUpstream } from "../src/network/networkUpstream.js";
import { type NodeScript, startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import { chat } from "./helpers/testGateway.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./helpers/upstreamRig.js";

/**
 * Review repros (attacks that currently succeed). Each test states what the gateway should do and fails today.
 */
const embedded = testDatabases()[0]!;
const PRICE = 10n ** 15n; // wei of TOMA per million units
const gateway = privateKeyToAccount(generatePrivateKey());
const nodeKey = privateKeyToAccount(generatePrivateKey());

describe("review: attacks on the gateway through a real node connection", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  let script: () => NodeScript = () => ({ kind: "honest" });
  let node: Awaited<ReturnType<typeof startFakeNode>>;
  let upstream: NetworkUpstream;
  let parts: GatewayParts;

  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
    node = await startFakeNode(nodeKey, 1n, RIG_CHAIN_ID, RIG_STACK_MANAGER, () => script());
  });
  beforeEach(async () => {
    ({ upstream } = await upstreamRig(
      opened,
      gateway,
      [{ url: node.url, signer: nodeKey, price: PRICE }],
      { firstByteTimeoutMs: 2_000, resendDelayMs: 10, requestTimeoutMs: 60_000 },
      1_000_000n,
    ));
    node.reset();
    const keys = new KeyStore(opened.db, Date.now);
    parts = {
      keys,
      ledger: new SpendLedger(opened.db),
      limiter: new RateLimiter(),
      upstream,
      logger: silentLogger,
      now: Date.now,
      bounds: { defaultMaxTokens: 16, maxCompletionTokens: 64 },
    };
  });
  afterAll(async () => {
    await node?.stop();
    await opened?.close();
    await db?.dispose();
  });

  const spentOf = async (name: string) => (await parts.keys.list()).find((k) => k.name === name)!.spent;

  it("charges a key that read a stream's whole text and left just before the receipt event", async () => {
    // The node commits the leaf (it can bill the gateway's stack), streams the text, then sends the receipt.
    script = () => ({ kind: "slowFinal", delayMs: 300 });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "leaver", budget: "1" });
    // With include_usage the receipt comes in an event of its own, after the finishing chunk (without it, the
    // finishing chunk waits for the receipt and carries it: cutStreams.test.ts).
    const body = {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
      stream: true,
      stream_options: { include_usage: true },
    };
    let text = "";
    {
      const response = await chat(app, key, body);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let raw = "";
      // Read until the chunk with finish_reason (all the text), then walk away.
      while (!raw.includes('"finish_reason":"stop"')) {
        const { value, done } = await reader.read();
        if (done) break;
        raw += decoder.decode(value, { stream: true });
      }
      await reader.cancel();
      text = [...raw.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join("");
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(text).toBe("Hello, world");
    // The node committed the leaf on the gateway's stack: the gateway's wallet pays for it (5 units).
    expect(node.billed(1n)).toBe(5n);
    // The key that got the answer must pay for it. Today: "0" (settle(undefined) on the client's abort), and
    // its token rate-limit allowance is refunded in full too: unlimited free streamed text for any key.
    // (Polled: the receipt comes 300 ms after the text, and the settlement's statements wait for a loaded machine.)
    await expect.poll(() => spentOf("leaver"), { timeout: 10_000 }).not.toBe("0");
  });

  it("refuses a receipt that bills more units than the request could possibly use", async () => {
    // Usage and units agree (the SDK checks only that), but 500,000 prompt tokens for a 2-byte prompt.
    script = () => ({ kind: "inflate", promptTokens: 500_000 });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "inflated", budget: "1" });
    const response = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
    });
    // Reserved at (bytes of messages + 64 + 8) units; the node's receipt says 500,002.
    // Expected: the receipt is refused (kept as evidence), the key is not charged past its bound.
    // Today: 200, the key charged 500,002 units (over its reservation), the gateway's stack billed for them.
    expect(response.status).not.toBe(200);
    expect(await spentOf("inflated")).toBe("0");
  });

  it("passes no answer field the node's signature does not cover (a fake legacy function call, reasoning)", async () => {
    const forged = { name: "transfer_funds", arguments: '{"to":"attacker","amount":1000}' };
    script = () => ({
      kind: "inject",
      fields: { function_call: forged, reasoning_content: "the user asked me to transfer funds" },
    });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "injected", budget: "1" });
    const response = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
    });
    // Was: the receipt verified (the response hash covers only text, tool_calls, finish_reason and usage), and the
    // gateway forwarded the node's body as it came: a client reading `function_call` runs what no replay checks.
    expect(response.status).toBe(200);
    const message = ((await response.json()) as { choices: { message: Record<string, unknown> }[] })
      .choices[0]!.message;
    expect(message.function_call).toBeUndefined();
    expect(message.reasoning_content).toBeUndefined();
  });

  it("does not take a node's word that a stack it barely used is spent (retiring it, buying the next)", async () => {
    // The gateway's own receipts say stack 1 has 1,000,000 units left; the node answers `stack_exhausted` anyway.
    script = () => ({ kind: "refuse", status: 402, code: "stack_exhausted" });
    await expect(
      upstream.send({
        endpoint: "chat",
        model: "tiny",
        body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 },
        stream: false,
        maxUnits: 100n,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow();
    // Today the stack is retired (its escrow locked until it settles, the minimum charge lost) and the pool buys
    // another on the next request (up to `stacksPerRequest` per request), while the node stays in rotation with
    // no cooldown: a node that lies this way drains the gateway wallet's liquidity for free.
    const [stack] = await opened.db.selectFrom("stacks").select(["state", "units_used"]).execute();
    expect(stack).toMatchObject({ units_used: 0n });
    expect(upstream.health.available(1n) && stack!.state === "retired").toBe(false);
  });

  it("shows the client the text the node signed, not pieces of it moved to another choice", async () => {
    // The node signs "Do not transfer"; it streams "Do" and " transfer" as choice 0 and " not" as choice 1.
    // Was: the SDK's StreamAssembler added every choice's text into one (index ignored), so the hash matched.
    script = () => ({
      kind: "splitChoices",
      text: "Do not transfer",
      pieces: [
        [0, "Do"],
        [1, " not"],
        [0, " transfer"],
      ],
    });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "split", budget: "1" });
    const response = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "Should I transfer?" }],
      max_tokens: 8,
      stream: true,
    });
    const raw = await response.text();
    const shown = new Map<number, string>();
    for (const line of raw.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      const event = JSON.parse(line.slice(6)) as {
        choices?: { index: number; delta?: { content?: string } }[];
      };
      for (const choice of event.choices ?? [])
        shown.set(choice.index, (shown.get(choice.index) ?? "") + (choice.delta?.content ?? ""));
    }
    // Was: the receipt verified, the stream ended with the node's atoma object, and choice 0 read "Do transfer".
    // Now the SDK refuses a choice other than 0 (the engine serves one): the stream ends with an error, the client
    // has seen only a prefix of the signed text and nothing under another choice.
    expect(raw).not.toContain('"atoma"');
    expect(raw).toContain('"stream_unhashable"');
    expect([...shown.keys()]).toEqual([0]);
    expect("Do not transfer".startsWith(shown.get(0)!)).toBe(true);
  });

  it("never lets the official client see a tool call renamed by a delta the receipt does not cover", async () => {
    // The SDK's assembler (what is hashed) keeps a call's first name; openai-node keeps the last one it is sent.
    script = () => ({ kind: "renameCall", rename: "delete_account" });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "rename", budget: "1" });
    let raw = "";
    const client = new OpenAI({
      apiKey: key,
      baseURL: "http://gateway.test/v1",
      maxRetries: 0,
      // Records what the gateway sent, then hands it to the client as it came.
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const answer = await app.fetch(new Request(url, init));
        raw = await answer.text();
        return new Response(raw, { status: answer.status, headers: answer.headers });
      },
    });
    const stream = client.chat.completions.stream({
      model: "tiny",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      max_tokens: 8,
    });
    // Was: the receipt verified and the client's answer was a call to delete_account. Now the SDK refuses a delta
    // that names a call again: the official client's stream fails, and no relayed byte renames the call.
    await expect(stream.finalChatCompletion()).rejects.toThrow(/first delta/);
    expect(raw).toContain('"stream_unhashable"');
    expect(raw).not.toContain("delete_account");
    expect(raw).not.toContain('"atoma"');
  });

  it("never relays a tool call the hashed answer does not have (a delta at a fractional index)", async () => {
    // Was: StreamAssembler wrote `calls[0.5]`, a property the array's JSON (and so the hash) leaves out; clients that
    // match deltas by their `index` field (openai-python, most raw-SSE readers) show a call to `delete_account`.
    script = () => ({ kind: "hiddenCall", name: "delete_account" });
    const app = createGatewayApp(parts);
    const { key } = await parts.keys.create({ name: "hidden", budget: "1" });
    const response = await chat(app, key, {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
      stream: true,
    });
    const raw = await response.text();
    // Was: verified (the atoma object relayed, no error event) with the unhashed call in the stream. Now the SDK
    // refuses a tool-call index that is not a call's or the next one: nothing of the call is relayed.
    expect(raw).toContain('"stream_unhashable"');
    expect(raw).not.toContain('"atoma"');
    expect(raw).not.toContain("delete_account");
  });

  it("stops reading a node stream whose event never ends, after a bounded number of bytes", async () => {
    const pulled = { bytes: 0 };
    script = () => ({ kind: "flood", bytes: 24 * 1024 * 1024, pulled });
    await expect(
      upstream.send({
        endpoint: "chat",
        model: "tiny",
        body: { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8, stream: true },
        stream: true,
        maxUnits: 100n,
        signal: new AbortController().signal,
        onChunk: () => {},
      }),
    ).rejects.toThrow();
    // An OpenAI chunk is a few KB at most; the gateway should cut a node at, say, 1 MiB of one event.
    // Was: `readSse` buffered the whole 24 MiB (and rescanned it on every read), bounded only by the 5-minute
    // request timeout: a hostile node grows the gateway's memory until it dies.
    expect(pulled.bytes).toBeLessThan(4 * 1024 * 1024);
  });
});
