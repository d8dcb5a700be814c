import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestHash, responseHash, STACK_HEADERS, signRequest } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { StackClient, signStackRequest } from "@atoma/sdk";
import { type Hex, keccak256, type LocalAccount, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findLeafByNonce, getStack } from "../src/accounting/stacks.js";
import { apiNode, dropSchema, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { capturingLogger } from "./helpers/capturingLogger.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";
import { databaseUrl } from "./helpers/stateDatabases.js";

/**
 * An adversarial client against a real node over HTTP: each odd input is either refused with a 4xx before any
 * unit is held (so nothing is generated), or answered, recorded byte for byte and charged. Nothing it sends,
 * nor anything the node answers, ever reaches a log line (the node logs through pino, as in production).
 */
const root = mkdtempSync(join(tmpdir(), "atoma-hostile-"));
const MAX_DEADLINE_SECONDS = 120;
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let nodes: RegisteredNode[];
let taskId: bigint;

beforeAll(async () => {
  network = await startStackNetwork();
  nodes = await network.registerNodes(1);
  taskId = await network.newTask([nodes[0]!]);
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
else describe.skip("hostile input on PostgreSQL (DATABASE_URL is unset)", () => {});

describe.each(variants)("the stack API against hostile input ($name database)", ({ name, url }) => {
  let node: AtomaNode;
  let schema: string | undefined;
  let owner: { account: LocalAccount; ctx: Parameters<StackNetwork["buy"]>[0] };
  let stackId: bigint;
  let client: StackClient;
  const logLines: string[] = [];
  /** Text that must never be logged: the prompts sent and the answers received. */
  const secrets: string[] = [];

  const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({
    model: model.id,
    messages: [{ role: "user", content }],
    max_tokens: 24,
    ignore_eos: true,
    ...extra,
  });
  const postRaw = (headers: Record<string, string>, body: string | Uint8Array) =>
    fetch(new URL("/v1/chat/completions", node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const stackRow = async () => (await getStack(node.context.db, stackId))!;
  const nonceRecorded = async (nonce: bigint) =>
    (await node.context.db
      .selectFrom("request_nonces")
      .select("nonce")
      .where("stack_id", "=", stackId)
      .where("nonce", "=", nonce)
      .executeTakeFirst()) !== undefined;
  /** A refusal: the status and code, and no unit held, none used, no nonce spent (so the engine never ran). */
  async function expectRefused(answer: Response, nonce: bigint, status: number, code: string) {
    const before = await stackRow();
    expect({
      status: answer.status,
      code: ((await answer.json()) as { error: { code: string } }).error.code,
    }).toEqual({ status, code });
    expect(await stackRow()).toMatchObject({
      unitsReserved: 0n,
      unitsUsed: before.unitsUsed,
      leafCount: before.leafCount,
    });
    expect(await nonceRecorded(nonce)).toBe(false);
  }
  /** An answer: its leaf stores the signed request and the answer exactly (they hash to the signed hashes), charged. */
  async function expectRecordedAndCharged(
    verified: Awaited<ReturnType<StackClient["chat"]>>,
    body: Record<string, unknown>,
    before: { unitsUsed: bigint; leafCount: bigint },
  ) {
    const leaf = await findLeafByNonce(node.context.db, stackId, nonceOf(verified));
    expect(leaf).toBeDefined();
    const request = leaf!.request as { body: Record<string, unknown> };
    expect(request.body).toEqual(body);
    expect(requestHash(request.body)).toBe(verified.fields.reqHash);
    expect(responseHash(leaf!.response)).toBe(verified.fields.respHash);
    const contentOf = (response: unknown) =>
      (response as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(contentOf(leaf!.response)).toBe(contentOf(verified.response));
    expect(await stackRow()).toMatchObject({
      unitsReserved: 0n,
      unitsUsed: before.unitsUsed + verified.fields.units,
      leafCount: before.leafCount + 1n,
    });
    const content = contentOf(verified.response);
    expect(content.length).toBeGreaterThan(8);
    secrets.push(JSON.stringify(content).slice(1, -1));
  }
  const nonces = new Map<unknown, bigint>();
  const nonceOf = (verified: unknown) => nonces.get(verified)!;
  /** Sends through the SDK, remembering the nonce of each answer. */
  async function send(body: Record<string, unknown>, stream: boolean) {
    const signed = await client.sign({ ...body, stream });
    const verified = stream
      ? await client.sendStream("/v1/chat/completions", signed)
      : await client.send("/v1/chat/completions", signed);
    nonces.set(verified, BigInt(signed.headers[STACK_HEADERS.nonce]!));
    return verified;
  }

  beforeAll(async () => {
    const made = apiNode({
      network,
      node: nodes[0]!,
      engine,
      model,
      dataDir: join(root, name),
      postgresUrl: url,
      limits: { maxRequestDeadlineSeconds: MAX_DEADLINE_SECONDS, maxBodyBytes: 1_048_576 },
      logger: capturingLogger(logLines),
    });
    node = made.node;
    schema = made.schema;
    await node.start();
    owner = await network.owner();
    const bought = await network.buy(owner.ctx, taskId, 100_000n);
    stackId = bought.stackId;
    await waitForStack(node, stackId);
    client = new StackClient({
      nodeUrl: node.url,
      account: owner.account,
      stackId,
      chainId: network.anvil.chainId,
      stackManager: network.addresses.StackManager,
      nodeSigner: nodes[0]!.signerAccount.address,
      nodeId: nodes[0]!.nodeId,
      deadlineSeconds: 60,
    });
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    if (url && schema) await dropSchema(url, schema);
  });

  it.each([false, true])(
    "answers a prompt holding NUL characters, records it exactly and charges it (stream: %s)",
    async (stream) => {
      const prompt = `SECRET-NUL-${stream}\u0000prompt\u0000end`;
      secrets.push(`SECRET-NUL-${stream}`);
      const body = { ...chatBody(prompt), stream };
      const before = await stackRow();
      const verified = await send(body, stream);
      await expectRecordedAndCharged(verified, body, before);
      expect((request(await leafOf(verified)).messages as { content: string }[])[0]!.content).toBe(prompt);
    },
  );

  it("answers NUL in a completion prompt too, and a resend gets the stored answer byte for byte", async () => {
    secrets.push("SECRET-COMPLETION");
    const signed = await client.sign({ model: model.id, prompt: "SECRET-COMPLETION\u0000x", max_tokens: 12 });
    const first = await client.send("/v1/completions", signed);
    const before = await stackRow();
    const again = await client.send("/v1/completions", signed);
    expect(again.atoma).toEqual(first.atoma);
    expect(again.response).toEqual(first.response);
    expect(await stackRow()).toMatchObject({ unitsUsed: before.unitsUsed, leafCount: before.leafCount });
    const text = (first.response.choices as { text: string }[])[0]!.text;
    if (text.length > 8) secrets.push(JSON.stringify(text).slice(1, -1));
  });

  it("refuses an unpaired surrogate with 400 invalid_unicode before holding a unit, though validly signed", async () => {
    secrets.push("SECRET-SURROGATE");
    // Keys in sorted order, so JSON.stringify is the text a JSON canonicaliser without the check would hash.
    const body = {
      max_tokens: 8,
      messages: [{ content: "SECRET-SURROGATE\ud800x", role: "user" }],
      model: model.id,
    };
    const json = JSON.stringify(body);
    const nonce = 7_001n;
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 60);
    const reqHash = keccak256(stringToBytes(json));
    const maxUnits = 4_096n;
    const signature = await signRequest(owner.account, client.domain, {
      stackId,
      reqHash,
      nonce,
      deadline,
      maxUnits,
    });
    const headers = {
      [STACK_HEADERS.stack]: stackId.toString(),
      [STACK_HEADERS.nonce]: nonce.toString(),
      [STACK_HEADERS.deadline]: deadline.toString(),
      [STACK_HEADERS.maxUnits]: maxUnits.toString(),
      [STACK_HEADERS.signature]: signature,
    };
    await expectRefused(await postRaw(headers, json), nonce, 400, "invalid_unicode");
    // The same surrogate as raw bytes (CESU-8 style) is no UTF-8 at all.
    const text = stringToBytes(json.replace("\\ud800", "@"));
    const at = text.indexOf(0x40);
    const raw = new Uint8Array([...text.slice(0, at), 0xed, 0xa0, 0x80, ...text.slice(at + 1)]);
    await expectRefused(await postRaw(headers, raw), nonce, 400, "invalid_json");
  });

  it("refuses JSON nested 100,000 deep with 400 json_too_deep, before the signature is checked", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const json = `{"model":${JSON.stringify(model.id)},"messages":[{"role":"user","content":"hi"}],"x":${deep}}`;
    const headers = {
      [STACK_HEADERS.stack]: stackId.toString(),
      [STACK_HEADERS.nonce]: "7002",
      [STACK_HEADERS.deadline]: String(Math.floor(Date.now() / 1000) + 60),
      [STACK_HEADERS.maxUnits]: "4096",
      [STACK_HEADERS.signature]: `0x${"11".repeat(65)}` as Hex,
    };
    await expectRefused(await postRaw(headers, json), 7_002n, 400, "json_too_deep");
  });

  it("enforces limits.maxRequestDeadlineSeconds, not a day", async () => {
    const body = chatBody("SECRET-DEADLINE", { stream: false });
    secrets.push("SECRET-DEADLINE");
    const now = Math.floor(Date.now() / 1000);
    const farther = await signStackRequest(owner.account, client.domain, {
      stackId,
      body,
      nonce: 7_003n,
      deadline: BigInt(now + MAX_DEADLINE_SECONDS + 600),
      maxUnits: 4_096n,
    });
    await expectRefused(await postRaw(farther.headers, farther.json), 7_003n, 401, "invalid_signature");
    const within = await signStackRequest(owner.account, client.domain, {
      stackId,
      body,
      nonce: client.nextNonce,
      deadline: BigInt(now + MAX_DEADLINE_SECONDS - 30),
      maxUnits: 4_096n,
    });
    const answered = await postRaw(within.headers, within.json);
    expect(answered.status).toBe(200);
    const { choices } = (await answered.json()) as { choices: { message: { content: string } }[] };
    secrets.push(JSON.stringify(choices[0]!.message.content).slice(1, -1));
  });

  it("never logs a prompt or an answer", () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThanOrEqual(7);
    for (const line of logLines) for (const secret of secrets) expect(line).not.toContain(secret);
  });

  const leafOf = async (verified: unknown) =>
    (await findLeafByNonce(node.context.db, stackId, nonceOf(verified)))!;
  const request = (leaf: { request: unknown }) => (leaf.request as { body: Record<string, unknown> }).body;
});
