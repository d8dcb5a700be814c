import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STACK_HEADERS } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import {
  NodeRequestError,
  ResponseVerificationError,
  type SignedStackRequest,
  StackClient,
  signStackRequest,
} from "@atoma/sdk";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { findLeafByNonce, getStack, listLeaves } from "../src/accounting/stacks.js";
import { apiNode, dropSchema, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { capturingLogger, warningsAndErrors } from "./helpers/capturingLogger.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";
import { databaseUrl } from "./helpers/stateDatabases.js";

const root = mkdtempSync(join(tmpdir(), "atoma-api-"));
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let nodes: RegisteredNode[];
let taskA: bigint;
let taskB: bigint;

beforeAll(async () => {
  network = await startStackNetwork();
  nodes = await network.registerNodes(2);
  taskA = await network.newTask([nodes[0]!]);
  taskB = await network.newTask([nodes[1]!]);
  await network.nextEpoch();
  ({ engine, model } = await startTinyEngine());
}, 120_000);
afterAll(async () => {
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

const variants = [{ name: "embedded", url: undefined as string | undefined }];
if (databaseUrl) variants.push({ name: "postgres", url: databaseUrl });
else describe.skip("stack API on PostgreSQL (DATABASE_URL is unset)", () => {});

describe.each(variants)("stack API end to end ($name database)", ({ name, url }) => {
  let node: AtomaNode;
  let other: AtomaNode;
  const schemas: string[] = [];
  let owner: { account: LocalAccount; ctx: Parameters<StackNetwork["buy"]>[0] };
  let stackId: bigint;
  let client: StackClient;
  const received: bigint[] = [];
  const logLines: string[] = [];
  /** How far the node's clock runs ahead of this one (to pass deadlines without waiting). */
  let clockAheadMs = 0;

  const clientFor = (id: bigint, overrides: Partial<ConstructorParameters<typeof StackClient>[0]> = {}) =>
    new StackClient({
      nodeUrl: node.url,
      account: owner.account,
      stackId: id,
      chainId: network.anvil.chainId,
      stackManager: network.addresses.StackManager,
      nodeSigner: nodes[0]!.signerAccount.address,
      nodeId: nodes[0]!.nodeId,
      ...overrides,
    });
  const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({
    model: model.id,
    messages: [{ role: "user", content }],
    max_tokens: 8,
    ...extra,
  });
  const post = (path: string, signed: SignedStackRequest, headers: Record<string, string> = signed.headers) =>
    fetch(new URL(path, node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: signed.json,
    });
  async function expectError(answer: Response, status: number, code: string) {
    expect({
      status: answer.status,
      code: ((await answer.json()) as { error: { code: string } }).error.code,
    }).toEqual({ status, code });
  }
  const stackRow = async (id: bigint) => (await getStack(node.context.db, id))!;

  beforeAll(async () => {
    const made = apiNode({
      network,
      node: nodes[0]!,
      engine,
      model,
      dataDir: join(root, `${name}-a`),
      postgresUrl: url,
      limits: { maxConcurrentStreams: 1, maxQueueLength: 0, maxBodyBytes: 4_096 },
      now: () => Date.now() + clockAheadMs,
      logger: capturingLogger(logLines),
    });
    node = made.node;
    const madeOther = apiNode({
      network,
      node: nodes[1]!,
      engine,
      model,
      dataDir: join(root, `${name}-b`),
      postgresUrl: url,
    });
    other = madeOther.node;
    for (const schema of [made.schema, madeOther.schema]) if (schema) schemas.push(schema);
    await node.start();
    await other.start();
    owner = await network.owner();
    const bought = await network.buy(owner.ctx, taskA, 100_000n);
    expect(bought.nodeId).toBe(nodes[0]!.nodeId);
    stackId = bought.stackId;
    await waitForStack(node, stackId);
    client = clientFor(stackId);
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await other?.stop();
    if (url) for (const schema of schemas) await dropSchema(url, schema);
  });

  it("answers a signed chat with a verified receipt and records its leaf", async () => {
    const { response, atoma, fields } = await client.chat(chatBody("Hello there"));
    received.push(fields.units);
    const usage = response.usage as { prompt_tokens: number; completion_tokens: number };
    expect(fields.units).toBe(BigInt(usage.prompt_tokens + usage.completion_tokens));
    expect(atoma.node_id).toBe(String(nodes[0]!.nodeId));
    const leaves = await listLeaves(node.context.db, stackId);
    expect(leaves.at(-1)).toMatchObject({
      leafIndex: fields.leafIndex,
      respHash: fields.respHash,
      units: fields.units,
    });
    expect((leaves.at(-1)!.request as { signature: string }).signature).toMatch(/^0x[0-9a-f]{130}$/);
  });

  it("streams a chat whose final event carries the receipt of the whole response", async () => {
    const chunks: unknown[] = [];
    const { response, fields } = await client.chatStream(
      chatBody("Tell me a story", { max_tokens: 12 }),
      (chunk) => chunks.push(chunk),
    );
    received.push(fields.units);
    expect(chunks.length).toBeGreaterThan(1);
    expect(
      (response.choices as { message: { content: string } }[])[0]!.message.content.length,
    ).toBeGreaterThan(0);
  });

  it("serves completions (plain and streamed) and embeddings", async () => {
    const plain = await client.completions({ model: model.id, prompt: "Once upon", max_tokens: 6, seed: 7 });
    const streamed = await client.completionsStream({
      model: model.id,
      prompt: "Once upon",
      max_tokens: 6,
      seed: 7,
    });
    expect(streamed.fields.respHash).toBe(plain.fields.respHash);
    expect(plain.fields.seed).toBe(7n);
    const embedded = await client.embeddings({ model: model.id, input: ["one", "two"] });
    expect((embedded.response.data as unknown[]).length).toBe(2);
    received.push(plain.fields.units, streamed.fields.units, embedded.fields.units);
  });

  it("derives the seed from the request hash when the client names none", async () => {
    const { fields } = await client.completions({ model: model.id, prompt: "abc", max_tokens: 4 });
    received.push(fields.units);
    const { deriveSeed } = await import("@atoma/core");
    expect(fields.seed).toBe(BigInt(deriveSeed(fields.reqHash)));
  });

  it("answers a resend of the same signed request from its records, charging once", async () => {
    const signed = await client.sign(chatBody("Resend me", { stream: false }));
    const first = await client.send("/v1/chat/completions", signed);
    const before = await stackRow(stackId);
    const again = await client.send("/v1/chat/completions", signed);
    received.push(first.fields.units);
    expect(again.atoma).toEqual(first.atoma);
    expect(await stackRow(stackId)).toMatchObject({
      unitsUsed: before.unitsUsed,
      leafCount: before.leafCount,
    });
  });

  it("answers a committed request from its records after its deadline, and refuses new work then", async () => {
    const signed = await client.sign(chatBody("just in time", { stream: false }));
    const first = await client.send("/v1/chat/completions", signed);
    received.push(first.fields.units);
    const late = await client.sign(chatBody("too late", { stream: false }));
    clockAheadMs = 3_600_000;
    try {
      expect((await client.send("/v1/chat/completions", signed)).atoma).toEqual(first.atoma);
      await expect(client.send("/v1/chat/completions", late)).rejects.toMatchObject({
        status: 401,
        code: "invalid_signature",
      });
    } finally {
      clockAheadMs = 0;
    }
  });

  it("refuses each bad request with its own status and code, holding no units", async () => {
    const body = chatBody("hi");
    const signed = await client.sign(body);
    await expectError(await post("/v1/chat/completions", signed, {}), 401, "invalid_signature");
    const malformed = { ...signed.headers, [STACK_HEADERS.signature]: "0x1234" };
    await expectError(await post("/v1/chat/completions", signed, malformed), 401, "invalid_signature");
    const farAhead = await signStackRequest(owner.account, client.domain, {
      stackId,
      body,
      nonce: 5n,
      deadline: BigInt(Math.floor(Date.now() / 1000) + 30 * 86_400),
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", farAhead), 401, "invalid_signature");
    const stranger = privateKeyToAccount(generatePrivateKey());
    const forged = await signStackRequest(stranger, client.domain, {
      stackId,
      body,
      nonce: 1n,
      deadline: 2n ** 40n,
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", forged), 401, "invalid_signature");
    const late = await signStackRequest(owner.account, client.domain, {
      stackId,
      body,
      nonce: 2n,
      deadline: 1n,
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", late), 401, "invalid_signature");
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 60);
    const unknown = await signStackRequest(owner.account, client.domain, {
      stackId: 999_999n,
      body,
      nonce: 3n,
      deadline,
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", unknown), 404, "unknown_stack");
    const elsewhere = await network.buy(owner.ctx, taskB, 1_000n);
    await waitForStack(other, elsewhere.stackId);
    const foreign = await signStackRequest(owner.account, client.domain, {
      stackId: elsewhere.stackId,
      body,
      nonce: 4n,
      deadline,
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", foreign), 403, "stack_not_served");
    const wrongModel = await client.sign(chatBody("hi", { model: "no-such-model" }));
    await expectError(await post("/v1/chat/completions", wrongModel), 404, "unknown_model");
    const longPrompt = await client.sign(chatBody("word ".repeat(150)));
    await expectError(await post("/v1/chat/completions", longPrompt), 400, "prompt_too_long");
    const huge = await client.sign(chatBody("x".repeat(5_000)));
    await expectError(await post("/v1/chat/completions", huge), 413, "request_too_large");
    const invalid = await client.sign({ model: model.id, messages: "not a list" }, 4_096n);
    await expectError(await post("/v1/chat/completions", invalid), 400, "invalid_input");

    await post("/v1/chat/completions", signed).then((r) => r.json());
    const replay = await signStackRequest(owner.account, client.domain, {
      stackId,
      body: chatBody("another body"),
      nonce: BigInt(signed.headers[STACK_HEADERS.nonce]!),
      deadline,
      maxUnits: 4_096n,
    });
    await expectError(await post("/v1/chat/completions", replay), 409, "nonce_reused");
    const leaf = (await listLeaves(node.context.db, stackId)).at(-1)!;
    received.push(leaf.units);
    expect((await stackRow(stackId)).unitsReserved).toBe(0n);
  });

  // Review 3: the owner's signature bounds the leaf's units. A request without a bound, or one that could use more
  // than it (the prompt alone, or with max_tokens), is refused before anything is reserved; the leaf of an
  // accepted one never claims more than was signed.
  it("refuses a request without a signed unit bound or above it, and never bills more than the bound", async () => {
    const body = chatBody("bounded", { stream: false, max_tokens: 4 });
    const signed = await client.sign(body, 4_096n);
    const { [STACK_HEADERS.maxUnits]: _, ...unbounded } = signed.headers;
    await expectError(await post("/v1/chat/completions", signed, unbounded), 400, "invalid_max_units");
    const zero = { ...signed.headers, [STACK_HEADERS.maxUnits]: "0" };
    await expectError(await post("/v1/chat/completions", signed, zero), 400, "invalid_max_units");
    // A bound raised after signing is not the owner's signature.
    const raised = { ...signed.headers, [STACK_HEADERS.maxUnits]: "4097" };
    await expectError(await post("/v1/chat/completions", signed, raised), 401, "invalid_signature");
    const promptOnly = await client.sign(body, 2n);
    await expectError(await post("/v1/chat/completions", promptOnly), 400, "max_units_exceeded");
    const answered = await client.chat(body);
    const tight = answered.fields.units - 1n;
    const withRoom = await client.sign(chatBody("bounded again", { stream: false, max_tokens: 4 }), tight);
    await expectError(await post("/v1/chat/completions", withRoom), 400, "max_units_exceeded");
    const fits = await client.chat(chatBody("bounded again", { stream: false, max_tokens: 4 }), {
      maxUnits: answered.fields.units + 8n,
    });
    expect(fits.fields.units).toBeLessThanOrEqual(answered.fields.units + 8n);
    received.push(answered.fields.units, fits.fields.units);
    expect((await stackRow(stackId)).unitsReserved).toBe(0n);
  });

  // Review 5 (LOW-2): an engine (an upstream server) reporting more usage than the node bounded must not make an
  // honest node sign a leaf above the owner's bound, which an index challenge would slash.
  it("neither records nor delivers an answer whose engine usage exceeds the signed bound", async () => {
    const real = engine.chat.bind(engine);
    const inflated = vi.spyOn(engine, "chat").mockImplementationOnce(async (body, options) => {
      const result = await real(body, options);
      const usage = {
        ...result.response.usage,
        completion_tokens: result.response.usage.completion_tokens + 10_000,
      };
      return { ...result, response: { ...result.response, usage } };
    });
    onTestFinished(() => inflated.mockRestore());
    const leavesBefore = (await listLeaves(node.context.db, stackId)).length;
    const body = chatBody("counted otherwise", { stream: false, max_tokens: 4 });
    const signed = await client.sign(body, 4_096n);
    await expectError(await post("/v1/chat/completions", signed), 502, "usage_over_signed");
    expect(inflated).toHaveBeenCalledTimes(1);
    expect((await listLeaves(node.context.db, stackId)).length).toBe(leavesBefore);
    expect((await stackRow(stackId)).unitsReserved).toBe(0n);
    // Nothing was spent: the same nonce serves the next request.
    const next = await client.chat(body, { maxUnits: 4_096n });
    expect(next.fields.nonce).toBe(BigInt(signed.headers[STACK_HEADERS.nonce]!));
    received.push(next.fields.units);
  });

  it("answers 429 with Retry-After when the queue is full", async () => {
    const permit = await node.context.admission.acquire();
    try {
      const signed = await client.sign(chatBody("busy?"));
      const answer = await post("/v1/chat/completions", signed);
      expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
      await expectError(answer, 429, "queue_full");
    } finally {
      permit.release();
    }
    expect((await stackRow(stackId)).unitsReserved).toBe(0n);
  });

  it("refuses a request the stack cannot cover (402) and serves until it is exhausted", async () => {
    const small = await network.buy(owner.ctx, taskA, 60n);
    await waitForStack(node, small.stackId);
    const smallClient = clientFor(small.stackId);
    const tooBig = smallClient.chat(chatBody("hi", { max_tokens: 100 }));
    await expect(tooBig).rejects.toMatchObject({ status: 402, code: "stack_exhausted", atoma: undefined });
    let used = 0n;
    let last: { signed: SignedStackRequest; atoma: unknown } | undefined;
    for (;;) {
      try {
        const signed = await smallClient.sign({ model: model.id, prompt: "ab", max_tokens: 8 });
        const verified = await smallClient.send("/v1/completions", signed);
        used += verified.fields.units;
        last = { signed, atoma: verified.atoma };
      } catch (error) {
        expect(error).toBeInstanceOf(NodeRequestError);
        expect(error).toMatchObject({ status: 402, code: "stack_exhausted" });
        // The refusal carries the stack's last leaf, signed: the owner need not take the claim on trust.
        expect((error as NodeRequestError).atoma).toMatchObject(last!.atoma as object);
        break;
      }
    }
    expect(await stackRow(small.stackId)).toMatchObject({ unitsUsed: used, unitsReserved: 0n });
    expect(used).toBeGreaterThan(0n);
    // A resend is still answered from the records once the stack is spent.
    expect((await smallClient.send("/v1/completions", last!.signed)).atoma).toEqual(last!.atoma);
  });

  it("releases the units of a stream whose client goes away", async () => {
    const console = consoleWatch();
    const logged = logLines.length;
    const controller = new AbortController();
    const signed = await client.sign(chatBody("Go on", { stream: true, max_tokens: 400, ignore_eos: true }));
    const answer = await fetch(new URL("/v1/chat/completions", node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
      signal: controller.signal,
    });
    const reader = answer.body!.getReader();
    await reader.read();
    controller.abort();
    const deadline = Date.now() + 30_000;
    while ((await stackRow(stackId)).unitsReserved !== 0n) {
      if (Date.now() > deadline) throw new Error("the reservation was never released");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A client that leaves is no fault: nothing at warning level, nothing on the console.
    expect(warningsAndErrors(logLines.slice(logged))).toEqual([]);
    expect(console.written()).toEqual([]);
  });

  it("releases the units of a request whose client goes away before the answer", async () => {
    const console = consoleWatch();
    const logged = logLines.length;
    const controller = new AbortController();
    const signed = await client.sign(chatBody("Go on and on", { max_tokens: 450, ignore_eos: true }));
    let answered = false;
    const sent = fetch(new URL("/v1/chat/completions", node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
      signal: controller.signal,
    }).then(
      () => (answered = true),
      () => undefined,
    );
    while (!answered && (await stackRow(stackId)).unitsReserved === 0n)
      await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await sent;
    const deadline = Date.now() + 30_000;
    while ((await stackRow(stackId)).unitsReserved !== 0n) {
      if (Date.now() > deadline) throw new Error("the reservation was never released");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Had it finished first, it is charged, and the same signed request fetches the answer.
    const nonce = BigInt(signed.headers[STACK_HEADERS.nonce]!);
    if (await findLeafByNonce(node.context.db, stackId, nonce))
      received.push((await client.send("/v1/chat/completions", signed)).fields.units);
    expect(warningsAndErrors(logLines.slice(logged))).toEqual([]);
    expect(console.written()).toEqual([]);
  });

  it("records exactly the units of the receipts clients received", async () => {
    const stack = await stackRow(stackId);
    const leaves = await listLeaves(node.context.db, stackId);
    expect(leaves.length).toBe(received.length);
    expect(stack.unitsUsed).toBe(received.reduce((a, b) => a + b, 0n));
    expect(leaves.at(-1)!.cumulativeUnits).toBe(stack.unitsUsed);
    const metrics = await (await fetch(new URL("/metrics", node.url))).text();
    expect(metrics).toContain('atoma_node_requests_total{endpoint="chat",outcome="ok"}');
    expect(metrics).toContain('atoma_node_requests_total{endpoint="chat",outcome="stack_exhausted"}');
    expect(metrics).toMatch(/atoma_node_tokens_total\{kind="completion"\} [1-9]/);
    expect(metrics).toMatch(/atoma_node_time_to_first_token_seconds_count\{endpoint="chat"\} [1-9]/);
  });

  it("SDK: resends the same signed request when the answer is lost, and is charged once", async () => {
    let calls = 0;
    const lossy: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (++calls > 1) return answer;
      await answer.arrayBuffer(); // the node answered and committed, but the client never sees it
      throw new TypeError("fetch failed");
    };
    const before = await stackRow(stackId);
    const verified = await clientFor(stackId, {
      fetch: lossy,
      resendDelayMs: 10,
      firstNonce: before.leafCount,
    }).chat(chatBody("lost answer"));
    expect(calls).toBe(2);
    expect(await stackRow(stackId)).toMatchObject({
      leafCount: before.leafCount + 1n,
      unitsUsed: before.unitsUsed + verified.fields.units,
    });
  });

  it("SDK: resends a stream whose connection broke, getting the committed answer once", async () => {
    let calls = 0;
    const breaking: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (++calls > 1) return answer;
      const whole = new Uint8Array(await answer.arrayBuffer()); // the node streamed it all and committed
      const firstEvent = whole.slice(0, new TextDecoder().decode(whole).indexOf("\n\n") + 2);
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return controller.error(new TypeError("terminated"));
          sent = true;
          controller.enqueue(firstEvent);
        },
      });
      return new Response(body, { headers: answer.headers });
    };
    const before = await stackRow(stackId);
    const chunks: unknown[] = [];
    const verified = await clientFor(stackId, {
      fetch: breaking,
      resendDelayMs: 10,
      firstNonce: before.leafCount,
    }).chatStream(chatBody("keep going"), (chunk) => chunks.push(chunk));
    expect(calls).toBe(2);
    expect(chunks.length).toBe(2); // the first chunk before the break, then the stored answer as one chunk
    expect(await stackRow(stackId)).toMatchObject({
      leafCount: before.leafCount + 1n,
      unitsUsed: before.unitsUsed + verified.fields.units,
    });
  });

  it("SDK: refuses a response that differs from what the node signed, or signed by another key", async () => {
    const tampering: typeof fetch = async (input, init) => {
      const answer = (await (await fetch(input, init)).json()) as {
        choices: { message: { content: string } }[];
      };
      answer.choices[0]!.message.content += "!";
      return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
    };
    const next = async () => (await stackRow(stackId)).leafCount;
    await expect(
      clientFor(stackId, { fetch: tampering, firstNonce: await next() }).chat(chatBody("tamper")),
    ).rejects.toThrow(ResponseVerificationError);
    const impostor = privateKeyToAccount(generatePrivateKey()).address;
    await expect(
      clientFor(stackId, { nodeSigner: impostor, firstNonce: await next() }).chat(chatBody("who signed?")),
    ).rejects.toThrow(/not signed by the node/);
  });
});

/** What reaches `console.error`, `console.warn` or `console.info` from now until the test ends. */
function consoleWatch(): { written(): unknown[][] } {
  const calls: unknown[][] = [];
  onTestFinished(() => {
    vi.restoreAllMocks();
  });
  for (const method of ["error", "warn", "info"] as const)
    vi.spyOn(globalThis.console, method).mockImplementation((...args: unknown[]) => {
      calls.push([method, ...args]);
    });
  return { written: () => calls };
}
