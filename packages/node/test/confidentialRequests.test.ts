import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTask,
  getAttestation,
  SecurityLevel,
  setAllowedMeasurement,
  setDevAttestation,
} from "@atoma/chain";
import {
  type AttestationEvidence,
  type AttestationPolicy,
  createDevAuthority,
  fromHex,
  generateEncryptionKeyPair,
  type HexString,
  issueDevAttestationKey,
  NonceStore,
  parseEvidence,
  RESPONSE_SALT_BYTES,
  SEALED_ANSWER_OBJECT,
  SEALED_ERROR_OBJECT,
  type SealedAnswer,
  StreamChunkDuplicatedError,
  StreamChunkOutOfOrderError,
  StreamTruncatedError,
  sealConfidentialRequest,
  type TdMeasurements,
  toHex,
  verifyAttestation,
} from "@atoma/confidential";
import { atomaDomain, measurementHash, responseHash } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { signStackRequest } from "@atoma/sdk";
import type { TypedDataDomain } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freezeForSettlement } from "../src/accounting/freezeForSettlement.js";
import { listLeaves } from "../src/accounting/stacks.js";
import { ConfidentialCompute } from "../src/confidential/confidentialCompute.js";
import { devEvidenceSource } from "../src/confidential/evidenceSource.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { buildSettlement } from "../src/settlement/buildSettlement.js";
import { capturingLogger } from "./helpers/capturingLogger.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/** In every confidential prompt: it must appear nowhere the node writes. */
const MARKER = "zebra-quartz-7731-confidential-marker";
/** In an ordinary request: proves the search below would find a prompt if one were stored. */
const CONTROL = "otter-basalt-5519-plain-control";

const reg = (byte: string) => `0x${byte.repeat(48)}` as HexString;
const MEASURED: TdMeasurements = {
  mrTd: reg("c1"),
  rtmr0: reg("d0"),
  rtmr1: reg("d1"),
  rtmr2: reg("d2"),
  rtmr3: reg("d3"),
};
const CHAT = "/v1/chat/completions";

const root = mkdtempSync(join(tmpdir(), "atoma-confidential-"));
let network: StackNetwork;
let engine: EmbeddedEngine;
let model: TinyModelFile;
let registered: RegisteredNode;
let node: AtomaNode;
let owner: Awaited<ReturnType<StackNetwork["owner"]>>;
let stackId: bigint;
let domain: TypedDataDomain;
let policy: AttestationPolicy;
let nodeKey: HexString;
let compute: ConfidentialCompute;
let devKey: Awaited<ReturnType<typeof issueDevAttestationKey>>;
let nextNonce = 0n;
const logLines: string[] = [];
/** Answer texts the client read after opening them: they must not appear on the node either. */
const answers: string[] = [];
/** Stacks whose task does not take sealed requests (below security level 3). */
const plainOnly = new Set<bigint>();

beforeAll(async () => {
  network = await startStackNetwork();
  [registered] = (await network.registerNodes(1)) as [RegisteredNode];
  const taskId = await network.newTask([registered]);
  await network.nextEpoch();
  ({ engine, model } = await startTinyEngine());
  const authority = await createDevAuthority();
  policy = {
    measurements: [{ label: "dev", ...MEASURED }],
    dev: { rootCertificatePem: authority.rootCertificatePem },
  };
  devKey = await issueDevAttestationKey(authority);
  compute = new ConfidentialCompute({
    source: devEvidenceSource(devKey, MEASURED),
    signingAddress: registered.signerAccount.address,
    acceptsStack: async (id) => !plainOnly.has(id),
  });
  node = startApiNode();
  await node.start();
  owner = await network.owner();
  stackId = (await network.buy(owner.ctx, taskId, 200_000n)).stackId;
  await waitForStack(node, stackId);
  domain = atomaDomain(network.anvil.chainId, network.addresses.StackManager);
}, 180_000);
afterAll(async () => {
  await node?.stop();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The node under test (again after a restart: same data directory, the current `compute`). */
function startApiNode(): AtomaNode {
  return apiNode({
    network,
    node: registered,
    engine,
    model,
    dataDir: join(root, "node"),
    limits: { maxBodyBytes: 16_384 },
    logger: capturingLogger(logLines),
    confidential: { compute, epoch: async () => 1n },
  }).node;
}

const deadlineSoon = () => BigInt(Math.floor(Date.now() / 1000) + 120);
const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: model.id,
  messages: [{ role: "user", content }],
  max_tokens: 16,
  seed: 3,
  ...extra,
});

async function sign(body: Record<string, unknown>, nonce: bigint, deadline: bigint) {
  return signStackRequest(owner.account, domain, { stackId, body, nonce, deadline, maxUnits: 10_000n });
}

function post(signed: { json: string; headers: Record<string, string> }, path = CHAT) {
  return fetch(new URL(path, node.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...signed.headers },
    body: signed.json,
  });
}

/** Seals `body` to `key` for the next nonce, signs the envelope, and sends it. */
async function sendSealed(body: Record<string, unknown>, key: HexString = nodeKey) {
  const nonce = nextNonce;
  const deadline = deadlineSoon();
  const sealed = await sealConfidentialRequest(key, body, { stackId, nonce, deadline, path: CHAT });
  const signed = await sign(sealed.body as unknown as Record<string, unknown>, nonce, deadline);
  const res = await post(signed);
  if (res.status === 200) nextNonce += 1n;
  return { res, reader: sealed.reader, signed, envelope: sealed.body, deadline, nonce };
}

async function errorOf(res: Response) {
  const { error } = (await res.json()) as { error: { code: string; type: string } };
  return { status: res.status, code: error.code, type: error.type };
}

/** The SSE events of a streamed answer, parsed. */
async function events(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
}

function contentOf(chunks: unknown[]): string {
  return chunks
    .map((c) => {
      const choice = (c as { choices?: { delta?: { content?: string } }[] }).choices?.[0];
      return choice?.delta?.content ?? "";
    })
    .join("");
}

describe("confidential requests on a dev-attested node", () => {
  it("serves evidence for a fresh nonce that the client verifies, binding the key it then seals to", async () => {
    const nonces = new NonceStore();
    const nonce = nonces.issue();
    const res = await fetch(new URL(`/v1/attestation?nonce=${nonce}`, node.url));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { evidence: AttestationEvidence; signing_address: string };
    expect(body.signing_address.toLowerCase()).toBe(registered.signerAccount.address.toLowerCase());
    const verdict = await verifyAttestation(parseEvidence(body.evidence), policy, {
      signingAddress: registered.signerAccount.address,
      freshness: { kind: "nonce", nonce },
      nonces,
    });
    expect(verdict.label).toBe("insecure, development");
    nodeKey = verdict.binding.encryptionPublicKey;
    const epoch = (await (await fetch(new URL("/v1/attestation", node.url))).json()) as {
      freshness: unknown;
    };
    expect(epoch.freshness).toEqual({ kind: "epoch", epoch: "1" });
  });

  it("answers a sealed chat sealed; the receipt signs the hashes of the envelope and the sealed answer", async () => {
    const { res, reader, signed } = await sendSealed(chat(`Remember ${MARKER} please`));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & {
      atoma: { request_hash: string; response_hash: string };
      chunks: string[];
    };
    expect(body.object).toBe(SEALED_ANSWER_OBJECT);
    expect(JSON.stringify(body)).not.toContain(MARKER);
    const { atoma, ...answer } = body;
    const { response, sealed } = reader.openAnswer(answer);
    expect(responseHash(sealed)).toBe(atoma.response_hash);
    expect(atoma.request_hash).toBe(signed.reqHash);
    const text = (response as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(text.length).toBeGreaterThan(0);
    answers.push(text);
  });

  it("streams sealed chunks; a dropped, reordered, repeated or missing final chunk is detected by the client", async () => {
    const { res, reader } = await sendSealed(
      chat(`Tell ${MARKER} a story`, { stream: true, max_tokens: 20 }),
    );
    expect(res.status).toBe(200);
    const all = await events(res);
    const sealedChunks = all
      .filter((e) => e.object === "atoma.confidential.chunk")
      .map((e) => e.sealed as string);
    const last = all.at(-1) as { usage: { prompt_tokens: number }; atoma: { response_hash: string } };
    expect(sealedChunks.length).toBeGreaterThan(3);
    expect(JSON.stringify(all)).not.toContain(MARKER);
    const opened: unknown[] = [reader.openChunk(sealedChunks[0]!)];
    expect(() => reader.openChunk(sealedChunks[0]!)).toThrow(StreamChunkDuplicatedError);
    expect(() => reader.openChunk(sealedChunks[2]!)).toThrow(StreamChunkOutOfOrderError);
    for (const chunk of sealedChunks.slice(1, -1)) opened.push(reader.openChunk(chunk));
    expect(() => reader.finish(last.usage)).toThrow(StreamTruncatedError);
    reader.openChunk(sealedChunks.at(-1)!);
    const sealed = reader.finish(last.usage);
    expect(responseHash(sealed)).toBe(last.atoma.response_hash);
    answers.push(contentOf(opened));
  });

  it("refuses a request sealed to another key with a clear 400", async () => {
    const stranger = await generateEncryptionKeyPair();
    const { res } = await sendSealed(chat(`${MARKER} wrong key`), stranger.publicKey);
    expect(await errorOf(res)).toEqual({
      status: 400,
      code: "confidential_undecryptable",
      type: "invalid_request_error",
    });
  });

  it("refuses a replayed sealed request (same encapsulated key) under another nonce, and one re-signed with another deadline", async () => {
    const first = await sendSealed(chat(`${MARKER} once`));
    expect(first.res.status).toBe(200);
    await first.res.json();
    const replay = await sign(
      first.envelope as unknown as Record<string, unknown>,
      nextNonce,
      first.deadline,
    );
    expect(await errorOf(await post(replay))).toMatchObject({ status: 409, code: "confidential_replayed" });
    // The owner's signature over the same envelope with a later deadline: the ciphertext is bound to the first.
    const nonce = nextNonce;
    const sealed = await sealConfidentialRequest(nodeKey, chat(`${MARKER} bound`), {
      stackId,
      nonce,
      deadline: first.deadline,
      path: CHAT,
    });
    const resigned = await sign(
      sealed.body as unknown as Record<string, unknown>,
      nonce,
      first.deadline + 5n,
    );
    expect(await errorOf(await post(resigned))).toMatchObject({
      status: 400,
      code: "confidential_undecryptable",
    });
    // Neither refusal spent the nonce: the request as sealed goes through.
    const original = await post(
      await sign(sealed.body as unknown as Record<string, unknown>, nonce, first.deadline),
    );
    expect(original.status).toBe(200);
    nextNonce += 1n;
    await original.json();
  });

  // Attacker: replays a sealed request's envelope under another nonce after the node restarted, hoping the guard
  // forgot it. With an encryption key that outlives a restart (given in code), the guard in the database still holds it.
  it("still refuses a replayed sealed request after a restart (the guard is in the node's database)", async () => {
    const first = await sendSealed(chat(`${MARKER} before restart`));
    expect(first.res.status).toBe(200);
    await first.res.json();
    const keys = { publicKey: await compute.publicKey(), privateKey: await compute.privateKey() };
    await node.stop();
    // A new process: a new compute (nothing in memory) with the same key pair, over the same data directory.
    compute = new ConfidentialCompute({
      source: devEvidenceSource(devKey, MEASURED),
      signingAddress: registered.signerAccount.address,
      keys,
      acceptsStack: async (id) => !plainOnly.has(id),
    });
    node = startApiNode();
    await node.start();
    await waitForStack(node, stackId);
    const replay = await sign(
      first.envelope as unknown as Record<string, unknown>,
      nextNonce,
      first.deadline,
    );
    expect(await errorOf(await post(replay))).toMatchObject({ status: 409, code: "confidential_replayed" });
    // The key still opens what is sealed to it for a fresh request.
    const fresh = await sendSealed(chat(`${MARKER} after restart`));
    expect(fresh.res.status).toBe(200);
    await fresh.res.json();
  });

  it("answers a resend of the same sealed request from its records, still sealed", async () => {
    const first = await sendSealed(chat(`${MARKER} resend`));
    const answered = (await first.res.json()) as { atoma: unknown };
    const again = await post(first.signed);
    expect(again.status).toBe(200);
    const body = (await again.json()) as { atoma: unknown; object: string };
    expect(body.object).toBe(SEALED_ANSWER_OBJECT);
    expect(body.atoma).toEqual(answered.atoma);
  });

  // Attacker (the gateway, or anyone on the path): let a sealed stream start, cut it before the node commits (the
  // nonce is free again), then resend the identical signed body. The node opens the same HPKE context again; with
  // answer keys fixed by the request, both generations would share AES-GCM key and nonces (c1 ^ c2 = p1 ^ p2).
  it("a sealed stream cut and resent is sealed again under a fresh salt: no key and nonce is reused", async () => {
    const first = await (async () => {
      const nonce = nextNonce;
      const deadline = deadlineSoon();
      const body = chat(`${MARKER} cut me`, { stream: true, max_tokens: 200 });
      const sealed = await sealConfidentialRequest(nodeKey, body, { stackId, nonce, deadline, path: CHAT });
      const signed = await sign(sealed.body as unknown as Record<string, unknown>, nonce, deadline);
      const abort = new AbortController();
      const res = await fetch(new URL(CHAT, node.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value);
      abort.abort();
      await reader.cancel().catch(() => {});
      const cutChunk = (JSON.parse(text.split("\n\n")[0]!.slice(6)) as { sealed: string }).sealed;
      return { reader: sealed.reader, signed, cutChunk };
    })();
    // The node releases the nonce once it sees the client gone; then the same signed body is sent again.
    let again: Response | undefined;
    for (let i = 0; i < 100; i++) {
      again = await post(first.signed);
      if (again.status === 200) break;
      await again.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(again?.status).toBe(200);
    nextNonce += 1n;
    const all = await events(again!);
    const resentChunk = all.find((e) => e.object === "atoma.confidential.chunk")!.sealed as string;
    const a = fromHex(first.cutChunk, "a");
    const b = fromHex(resentChunk, "b");
    const head = 9 + RESPONSE_SALT_BYTES;
    // Another salt in clear in chunk 0, so other keys: the XOR of the ciphertexts is not the XOR of the plaintexts.
    expect(toHex(a.subarray(9, head))).not.toBe(toHex(b.subarray(9, head)));
    const p1 = first.reader.openChunk(first.cutChunk);
    const retry = first.reader.retry();
    const p2 = retry.openChunk(resentChunk);
    const [t1, t2] = [JSON.stringify(p1), JSON.stringify(p2)].map((t) => new TextEncoder().encode(t));
    const n = Math.min(t1!.length, t2!.length, a.length - head - 16, b.length - head - 16);
    const xorC = a.subarray(head, head + n).map((v, i) => v ^ (b[head + i] ?? 0));
    const xorP = t1!.subarray(0, n).map((v, i) => v ^ (t2![i] ?? 0));
    expect(toHex(xorC)).not.toBe(toHex(xorP));
    // The client reads the resent answer whole with the retry reader, salt taken from chunk 0.
    for (const event of all.filter((e) => e.object === "atoma.confidential.chunk").slice(1))
      retry.openChunk(event.sealed as string);
    const last = all.at(-1) as { usage: SealedAnswer["usage"]; atoma: { response_hash: string } };
    expect(responseHash(retry.finish(last.usage))).toBe(last.atoma.response_hash);
  });

  // Attacker (the gateway): send, or watch, a sealed request that fails validation after it opened. The error's text
  // (here a tool name holding the marker) must reach only the client, sealed; the clear part keeps the code.
  it("an error raised after a sealed request opened goes back sealed, with only its code in clear", async () => {
    const tool = (name: string) => ({ type: "function", function: { name, parameters: { type: "object" } } });
    const leaky = chat("hello", { tools: [tool(MARKER), tool(MARKER)] });
    for (const stream of [false, true]) {
      const { res, reader } = await sendSealed({ ...leaky, stream });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).not.toContain(MARKER);
      const body = JSON.parse(text) as {
        object: string;
        error: { code: string; param: unknown };
        sealed: string;
      };
      expect(body.object).toBe(SEALED_ERROR_OBJECT);
      expect(body.error).toMatchObject({ code: "invalid_input", param: null });
      const opened = reader.openError(body);
      expect(opened.message).toContain(MARKER);
      expect(opened.param).toBe("tools.1.function.name");
    }
  });

  it("refuses an oversize ciphertext with 413 before opening it", async () => {
    const nonce = nextNonce;
    const deadline = deadlineSoon();
    const sealed = await sealConfidentialRequest(nodeKey, chat("x".repeat(20_000)), {
      stackId,
      nonce,
      deadline,
      path: CHAT,
    });
    const res = await post(await sign(sealed.body as unknown as Record<string, unknown>, nonce, deadline));
    expect(await errorOf(res)).toMatchObject({ status: 413, code: "request_too_large" });
  });

  it("refuses a sealed request on a stack whose task does not take them, spending nothing", async () => {
    plainOnly.add(stackId);
    try {
      const { res } = await sendSealed(chat(`${MARKER} level`));
      expect(await errorOf(res)).toMatchObject({ status: 400, code: "confidential_stack_unsupported" });
    } finally {
      plainOnly.delete(stackId);
    }
  });

  // Issue 14 review: "this node has no confidential compute" (for good) and "no evidence for now" (ask again) had one
  // code between them; a client could not tell whether to put the node aside or retry it.
  it("a node without confidential compute says so for good (400 confidential_unsupported), not 'unavailable for now'", async () => {
    const [plain] = (await network.registerNodes(1)) as [RegisteredNode];
    const bare = apiNode({ network, node: plain, engine, model, dataDir: join(root, "plain") }).node;
    await bare.start();
    try {
      for (const path of ["/v1/attestation", `/v1/attestation?nonce=${new NonceStore().issue()}`])
        expect(await errorOf(await fetch(new URL(path, bare.url)))).toMatchObject({
          status: 400,
          code: "confidential_unsupported",
        });
    } finally {
      await bare.stop();
    }
    // A confidential node whose TEE interface fails: 503 attestation_unavailable, for now.
    const failing = new ConfidentialCompute({
      source: {
        kind: "dev",
        produce: async () => {
          throw new Error("configfs-tsm is busy");
        },
      },
      signingAddress: registered.signerAccount.address,
    });
    await expect(failing.forNonce(new NonceStore().issue())).rejects.toMatchObject({
      code: "attestation_unavailable",
    });
  });

  it("refuses a malformed envelope (extra clear field) with 400", async () => {
    const nonce = nextNonce;
    const deadline = deadlineSoon();
    const sealed = await sealConfidentialRequest(nodeKey, chat("hi"), {
      stackId,
      nonce,
      deadline,
      path: CHAT,
    });
    const leaky = { ...(sealed.body as unknown as Record<string, unknown>), model: model.id };
    expect(await errorOf(await post(await sign(leaky, nonce, deadline)))).toMatchObject({
      status: 400,
      code: "confidential_envelope_invalid",
    });
  });

  it("after a key rotation, serves evidence for the new key; a request sealed to the old one gets 400", async () => {
    const oldKey = nodeKey;
    const rotated = await compute.rotateKey();
    expect(rotated?.encryptionPublicKey).not.toBe(oldKey);
    const epoch = (await (await fetch(new URL("/v1/attestation", node.url))).json()) as {
      evidence: AttestationEvidence;
    };
    const verdict = await verifyAttestation(parseEvidence(epoch.evidence), policy, {
      signingAddress: registered.signerAccount.address,
      freshness: { kind: "epoch", epoch: 1n },
    });
    expect(verdict.binding.encryptionPublicKey).toBe(rotated?.encryptionPublicKey);
    const stale = await sendSealed(chat(`${MARKER} stale key`), oldKey);
    expect(await errorOf(stale.res)).toMatchObject({ status: 400, code: "confidential_undecryptable" });
    nodeKey = verdict.binding.encryptionPublicKey;
    const fresh = await sendSealed(chat(`${MARKER} new key`));
    expect(fresh.res.status).toBe(200);
    const { atoma, ...answer } = (await fresh.res.json()) as Record<string, unknown> & { atoma: unknown };
    expect(fresh.reader.openAnswer(answer).sealed.chunks).toHaveLength(1);
  });

  it("a node whose [confidential] section names a dev key file serves evidence and answers sealed requests", async () => {
    const [second] = (await network.registerNodes(1)) as [RegisteredNode];
    const authority = await createDevAuthority();
    const keyFile = join(root, "configured-dev-key.json");
    writeFileSync(
      keyFile,
      JSON.stringify({ ...(await issueDevAttestationKey(authority)), measurements: MEASURED }),
    );
    const configured = apiNode({
      network,
      node: second,
      engine,
      model,
      dataDir: join(root, "configured"),
      confidentialConfig: { kind: "dev", devKeyFile: keyFile },
      postAttestations: true,
    }).node;
    await configured.start();
    try {
      // Without `acceptsStack` in code, sealed requests go to level-3 stacks only, and the node must be attested
      // on-chain (it posts its record after the start) before the task takes it.
      for (let i = 0; !(await getAttestation(network.admin, second.nodeId)); i++) {
        if (i > 400) throw new Error("the node posted no attestation record");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const { taskId: task } = await createTask(network.admin, {
        modelId: network.modelId,
        role: 0,
        securityLevel: SecurityLevel.Confidential,
      });
      const measurement = measurementHash("dev", MEASURED);
      await setAllowedMeasurement(network.admin, { taskId: task, measurement, allowed: true });
      await setDevAttestation(network.admin, { taskId: task, allowed: true });
      await network.subscribe(second, task);
      await network.nextEpoch();
      const bought = await network.buy(owner.ctx, task, 10_000n);
      await waitForStack(configured, bought.stackId);
      const nonces = new NonceStore();
      const nonce = nonces.issue();
      const res = await fetch(new URL(`/v1/attestation?nonce=${nonce}`, configured.url));
      const verdict = await verifyAttestation(
        parseEvidence(((await res.json()) as { evidence: unknown }).evidence),
        { measurements: [MEASURED], dev: { rootCertificatePem: authority.rootCertificatePem } },
        { signingAddress: second.signerAccount.address, freshness: { kind: "nonce", nonce }, nonces },
      );
      const deadline = deadlineSoon();
      const sealed = await sealConfidentialRequest(
        verdict.binding.encryptionPublicKey,
        chat(`${MARKER} configured`),
        {
          stackId: bought.stackId,
          nonce: 0n,
          deadline,
          path: CHAT,
        },
      );
      const signed = await signStackRequest(owner.account, domain, {
        stackId: bought.stackId,
        body: sealed.body as unknown as Record<string, unknown>,
        nonce: 0n,
        deadline,
        maxUnits: 10_000n,
      });
      const answer = await fetch(new URL(CHAT, configured.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
      });
      expect(answer.status).toBe(200);
      const { atoma, ...rest } = (await answer.json()) as Record<string, unknown> & {
        atoma: { response_hash: string };
      };
      expect(responseHash(sealed.reader.openAnswer(rest).sealed)).toBe(atoma.response_hash);
    } finally {
      await configured.stop();
    }
  });

  it("stores, logs and publishes nothing of a confidential prompt or answer in clear", async () => {
    // Control: an ordinary request's prompt is found by the same search.
    const plain = await post(await sign(chat(`Plain ${CONTROL}`), nextNonce, deadlineSoon()));
    expect(plain.status).toBe(200);
    nextNonce += 1n;
    await plain.json();
    const leaves = await listLeaves(node.context.db, stackId);
    expect(leaves.length).toBe(Number(nextNonce));
    // The inputs transcript a settlement publishes, put in the node's blob store as its settlement does.
    const snapshot = await freezeForSettlement(node.context.db, stackId);
    const built = buildSettlement(snapshot, {
      chainId: network.anvil.chainId,
      stacks: network.addresses.StackManager,
    });
    await node.context.blobs.put(built.transcript);
    await node.stop();
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(root);
    const stored = Buffer.concat(files.map((f) => readFileSync(f)));
    const logs = logLines.join("\n");
    expect(files.some((f) => f.includes("blob"))).toBe(true);
    expect(stored.includes(CONTROL)).toBe(true);
    expect(stored.includes(MARKER)).toBe(false);
    expect(logs.includes(MARKER)).toBe(false);
    const distinctive = answers.filter((a) => a.trim().length >= 12);
    expect(distinctive.length).toBeGreaterThan(0);
    for (const answer of distinctive) {
      expect(stored.includes(answer)).toBe(false);
      expect(logs.includes(answer)).toBe(false);
    }
  });
});
