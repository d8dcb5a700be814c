import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  getAttestation,
  nodeRegistryAbi,
  SecurityLevel,
  setAllowedMeasurement,
  setDevAttestation,
  setGpuRequired,
} from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import {
  type AttestationPolicy,
  createDevAuthority,
  gpuNonceFor,
  type HexString,
  issueDevAttestationKey,
  SEALED_CHUNK_BUCKETS,
  sealConfidentialRequest,
  type TdMeasurements,
} from "@atoma/confidential";
import { costOfUnits, measurementHash } from "@atoma/core";
import type { EmbeddedEngine } from "@atoma/engine";
import { type AtomaNode, ConfidentialCompute, devEvidenceSource } from "@atoma/node";
import { apiNode, startTinyEngine } from "@atoma/node/devnet";
import { createAtomaClient } from "@atoma/sdk";
import { type ConfidentialAnswer, gatewayConfidentialClient } from "@atoma/sdk/gateway-confidential";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { pino } from "pino";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { type Gateway, startGateway } from "../src/service/startGateway.js";

/** In every confidential prompt: it must appear nowhere the gateway writes. */
const MARKER = "walrus-cobalt-4417-gateway-marker";
const MODEL = "atoma-tiny";
const CHAT = "/v1/chat/completions";
const reg = (byte: string) => `0x${byte.repeat(48)}` as HexString;
const MEASURED: TdMeasurements = {
  mrTd: reg("e1"),
  rtmr0: reg("e2"),
  rtmr1: reg("e3"),
  rtmr2: reg("e4"),
  rtmr3: reg("e5"),
};

const root = mkdtempSync(join(tmpdir(), "atoma-confidential-gateway-"));
const logLines: string[] = [];
let network: Devnet;
let engine: EmbeddedEngine;
const nodes: AtomaNode[] = [];
let flaky: DevNode;
let steady: DevNode;
let gateway: Gateway;
let gatewayStopped = false;
let apiKey: string;
let otherKey: string;
let policy: AttestationPolicy;
/** While set, the flaky node's front fails every sealed request with a 500 (its evidence still served). */
let failSealed = false;
let front: Server;
/** Every answer text the client opened: none may appear where the gateway stores anything either. */
const opened: string[] = [];
/** Every envelope sent: the control that the search reads what the gateway stores (it keeps ciphertext). */
const envelopes: string[] = [];
/** Answers the client received with a receipt. */
let answered = 0;
/** While set, the flaky node's front cuts the next sealed stream after its first event (once). */
let cutStream = false;
/** Streams the front cut. */
let cuts = 0;
/** While set, the flaky node's front strips the GPU token from the evidence it serves (a node lying about its GPUs). */
let stripGpuToken = false;
/** The flaky node's GPU evidence: the token its evidence source attaches for a quote's report data (none while unset). */
let flakyGpuToken: ((reportData: Uint8Array) => Promise<string>) | undefined;
const computes: ConfidentialCompute[] = [];
/** The flaky node's epoch evidence before the epoch moved on: what a lying gateway could replay. */
let staleEpochAnswer: unknown;
/** The model's level-3 task, and another model's: what a lying gateway could name instead. */
let taskId: bigint;
let otherModelTaskId: bigint;

function freePort(): Promise<number> {
  const probe = createServer();
  return listen(probe).then((port) => new Promise((resolve) => probe.close(() => resolve(port))));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

/**
 * A reverse proxy in front of a node: passes everything through, or fails sealed requests while `failSealed`, or cuts
 * the next stream after its first event when `cutStream` is set (the connection dropped mid-answer, before the node
 * committed it). A resend that reaches the node before it saw the cut connection gone (409 `request_in_flight`) is
 * held and tried again, as a slower network would deliver it.
 */
function nodeFront(target: () => string): Server {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (failSealed && req.method === "POST") {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "down", type: "server_error", code: "internal_error" } }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        ([name]) => !["host", "connection", "content-length"].includes(name),
      ),
    ) as Record<string, string>;
    const cut = cutStream && req.method === "POST";
    if (cut) cutStream = false;
    const send = () =>
      fetch(new URL(req.url ?? "/", target()), {
        method: req.method ?? "GET",
        headers,
        ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}),
      });
    let answer = await send();
    for (let i = 0; i < 100 && answer.status === 409 && req.method === "POST"; i++) {
      await answer.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 50));
      answer = await send();
    }
    if (stripGpuToken && req.url?.startsWith("/v1/attestation") && answer.ok) {
      const served = (await answer.json()) as { evidence: Record<string, unknown> };
      delete served.evidence.gpuToken;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(served));
      return;
    }
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    let text = "";
    if (answer.body)
      for await (const chunk of answer.body) {
        await new Promise((resolve) => res.write(chunk, resolve));
        if (!cut) continue;
        text += Buffer.from(chunk).toString();
        if (!text.includes("\n\n")) continue;
        cuts++;
        // Leaving the loop cancels the node's answer: the node sees its client gone.
        res.destroy();
        return;
      }
    res.end();
  });
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const client = (key = apiKey, extra: Partial<Parameters<typeof gatewayConfidentialClient>[0]> = {}) =>
  gatewayConfidentialClient({
    gateway: { url: gateway.url, apiKey: key },
    policy,
    network: {
      rpcUrl: network.anvil.rpcUrl,
      chainId: network.anvil.chainId,
      contracts: network.deployment.addresses,
    },
    maxUnits: 2_000,
    // A test below spends the nodes' fresh quotes for the gateway's address (they come back slowly): the clients of
    // the tests after it take, by default, the epoch evidence the chain's record names. The tests of freshness itself
    // turn this off (`epochEvidence: false`).
    ...extra,
  });

const chat = (content: string) => ({
  model: MODEL,
  messages: [{ role: "user", content }],
  max_tokens: 32,
  seed: 5,
});

const call = (path: string, init: { method?: string; body?: unknown; key?: string; session?: string } = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${init.key ?? apiKey}`,
      "content-type": "application/json",
      ...(init.session ? { "x-atoma-confidential-session": init.session } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });

const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

interface SessionBody {
  id: string;
  model: string;
  node_id: string;
  node_signer: `0x${string}`;
  task_id: string;
  stack_id: string;
  nonce: string;
  deadline: string;
  path: string;
  expires_at: number;
}

const openSession = async (extra: Record<string, unknown> = {}, key = apiKey) => {
  const res = await call("/v1/confidential/sessions", {
    body: { model: MODEL, max_units: 2_000, ...extra },
    key,
  });
  expect(res.status).toBe(201);
  return (await res.json()) as SessionBody;
};

/** Seals a chat for an open session, checking the evidence first as the SDK does (its own attestation). */
async function sealFor(session: SessionBody, content: string, key = apiKey) {
  const { verdict } = await client(key).attest(session, MODEL);
  const sealed = await sealConfidentialRequest(verdict.binding.encryptionPublicKey, chat(content), {
    stackId: BigInt(session.stack_id),
    nonce: BigInt(session.nonce),
    deadline: BigInt(session.deadline),
    path: CHAT,
  });
  envelopes.push(sealed.body.atoma_confidential.enc);
  return sealed;
}

function remember(answer: ConfidentialAnswer): ConfidentialAnswer {
  answered++;
  const choice = (answer.response.choices as { message?: { content?: string } }[] | undefined)?.[0];
  const text = choice?.message?.content ?? (answer.response.content as string | undefined) ?? "";
  // Long enough that finding it by chance in binary files is out of the question.
  if (text.trim().length >= 12) opened.push(text.trim());
  return answer;
}

beforeAll(async () => {
  network = await startDevnet();
  const { modelId } = await network.registerModel({ name: MODEL });
  const tiny = await startTinyEngine({ id: MODEL });
  engine = tiny.engine;
  const authority = await createDevAuthority();
  policy = {
    measurements: [{ label: "dev", ...MEASURED }],
    dev: { rootCertificatePem: authority.rootCertificatePem },
  };
  let flakyUrl = "";
  front = nodeFront(() => flakyUrl);
  flaky = await network.addNode({ url: `http://127.0.0.1:${await listen(front)}` });
  const steadyPort = await freePort();
  steady = await network.addNode({ url: `http://127.0.0.1:${steadyPort}` });
  for (const [node, port] of [
    [flaky, 0],
    [steady, steadyPort],
  ] as const) {
    const compute = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED, {
        gpuToken: async (reportData) => (node === flaky ? flakyGpuToken?.(reportData) : undefined),
      }),
      signingAddress: node.signerAccount.address,
      // Two fresh quotes per source (the gateway's address), then hardly any: once spent, the epoch evidence serves.
      quotesPerSecondPerSource: 0.01,
    });
    const started = apiNode({
      network,
      node,
      engine,
      model: tiny.model,
      dataDir: join(root, `node-${node.nodeId}`),
      port,
      pollingIntervalMs: 250,
      confidential: { compute, epochPollMs: 250, postRetryDelaysMs: [50] },
      postAttestations: true,
    }).node;
    await started.start();
    computes.push(compute);
    if (node === flaky) flakyUrl = started.url;
    nodes.push(started);
    await until(
      () => getAttestation(network.admin, node.nodeId),
      (record) => record !== undefined,
    );
  }
  taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.Confidential });
  const other = await network.registerModel({ name: "atoma-other" });
  otherModelTaskId = await network.addTask({
    modelId: other.modelId,
    securityLevel: SecurityLevel.Confidential,
  });
  await setAllowedMeasurement(network.admin, {
    taskId,
    measurement: measurementHash("dev", MEASURED),
    allowed: true,
  });
  await setDevAttestation(network.admin, { taskId, allowed: true });
  // The flaky node asks far less: sessions go to it first while it is well (the failover and the cut below depend
  // on it). A tenth of the price outweighs any latency and throughput the gateway measures (their weights add up to
  // less than the price's difference), so a slow first answer (a cold engine) does not rank it second.
  await network.subscribe(flaky, taskId, {
    collateral: parseEther("900"),
    pricePerMillion: DEV_PRICE_PER_MILLION / 10n,
  });
  await network.subscribe(steady, taskId, { collateral: parseEther("900") });
  staleEpochAnswer = await (await fetch(new URL("/v1/attestation", nodes[0]!.url))).json();
  await network.nextEpoch();
  // Each node attests again for the new epoch: its epoch evidence is what the chain's record names.
  const epoch = await network.admin.publicClient.readContract({
    address: network.deployment.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "currentEpoch",
  });
  for (const node of [flaky, steady])
    await until(
      () => getAttestation(network.admin, node.nodeId),
      (record) => record?.epoch === epoch,
    );
  const wallet = await network.account();
  const config = parseProxyConfig(
    {
      server: { port: 0 },
      database: { dataDir: join(root, "proxy") },
      stacks: { units: "200000", maxPerModel: 4 },
      // The failover puts the flaky node aside this long: it is well again for the cut stream after it.
      routing: { cooldownMs: 3_000 },
      // A key's sessions on the model (3) are bounded below its sessions in all (6): the squatter meets the former.
      confidential: {
        sessionTtlMs: 2_000,
        maxSessionsPerKey: 6,
        maxSessionsPerKeyPerModel: 3,
        deadlineSlackSeconds: 1,
        // Every charge here is a receipt's (the last test checks them): holding a stack's cost is tested by
        // confidentialSessionsHoldCost.test.ts.
        holdUnitsPerMinute: 0,
      },
    },
    { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId, contracts: network.deployment.addresses },
  );
  const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
  gateway = await startGateway(config, { account: privateKeyToAccount(wallet.privateKey), logger });
  apiKey = (await gateway.keys.create({ name: "confidential" })).key;
  otherKey = (await gateway.keys.create({ name: "other" })).key;
}, 240_000);

afterAll(async () => {
  if (!gatewayStopped) await gateway?.stop();
  for (const node of nodes) await node.stop();
  front?.close();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("confidential requests through the gateway", () => {
  it("serves a sealed chat the client verified and opened; the receipt signs the envelope and sealed answer", async () => {
    const answer = remember(await client().chat(chat(`Say hello to ${MARKER}`)));
    expect(answer.attestation.label).toBe("insecure, development");
    expect([flaky.nodeId, steady.nodeId]).toContain(answer.nodeId);
    expect(answer.taskId).toBe(taskId);
    expect(answer.response.object).toBe("chat.completion");
    expect(BigInt(answer.atoma.units)).toBeGreaterThan(0n);
    expect(answer.failedNodes).toEqual([]);
  });

  it("streams a sealed chat: the gateway relays sealed chunks it cannot read, the client opens each", async () => {
    const seen: unknown[] = [];
    const answer = remember(
      await client().chat(chat(`Tell a story about ${MARKER}`), (chunk) => seen.push(chunk)),
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(answer.sealed.chunks.length).toBeGreaterThan(seen.length);
  });

  it("refuses a prompt in clear for a model only confidential tasks serve, and an envelope without a session", async () => {
    const clear = await call(CHAT, { body: chat(`clear ${MARKER}`) });
    expect(clear.status).toBe(400);
    expect(await codeOf(clear)).toBe("confidential_required");
    const session = await openSession();
    const sealed = await sealFor(session, `no session ${MARKER}`);
    const bare = await call(CHAT, { body: sealed.body });
    expect(bare.status).toBe(400);
    expect(await codeOf(bare)).toBe("confidential_session_required");
  });

  it("refuses a body that is not exactly an envelope without spending the session, then serves it once", async () => {
    const session = await openSession();
    const sealed = await sealFor(session, `once ${MARKER}`);
    for (const body of [
      { ...sealed.body, model: MODEL },
      { atoma_confidential: { ...sealed.body.atoma_confidential, enc: "0x12" } },
      chat(`smuggled ${MARKER}`),
    ]) {
      const res = await call(CHAT, { body, session: session.id });
      expect(res.status).toBe(400);
      expect(await codeOf(res)).toBe("confidential_envelope_invalid");
    }
    const stranger = await call(CHAT, { body: sealed.body, session: session.id, key: otherKey });
    expect(stranger.status).toBe(404);
    expect(await codeOf(stranger)).toBe("confidential_session_unknown");
    const served = await call(CHAT, { body: sealed.body, session: session.id });
    expect(served.status).toBe(200);
    answered++;
    const json = (await served.json()) as { chunks: string[]; usage: unknown; atoma: { leaf_index: string } };
    expect(BigInt(json.atoma.leaf_index)).toBe(BigInt(session.nonce));
    const { response } = sealed.reader.openAnswer(json);
    const text = (response as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    if (text.trim().length >= 12) opened.push(text.trim());
    const again = await call(CHAT, { body: sealed.body, session: session.id });
    expect(again.status).toBe(404);
    expect(await codeOf(again)).toBe("confidential_session_unknown");
  });

  it("reserves a session's budget when it opens: a key that cannot cover its bound gets no session (no stack held)", async () => {
    const poor = (await gateway.keys.create({ name: "poor", budget: "0.000000000001" })).key;
    const refused = await call("/v1/confidential/sessions", {
      body: { model: MODEL, max_units: 2_000 },
      key: poor,
    });
    expect(refused.status).toBe(429);
    expect(await codeOf(refused)).toBe("insufficient_quota");
    // The attestation of a session is its key's alone.
    const session = await openSession();
    const nonce = `0x${"77".repeat(32)}`;
    const stranger = await call(`/v1/confidential/sessions/${session.id}/attestation?nonce=${nonce}`, {
      key: otherKey,
    });
    expect(stranger.status).toBe(404);
    expect(await codeOf(stranger)).toBe("confidential_session_unknown");
    const bad = await call(`/v1/confidential/sessions/${session.id}/attestation?nonce=0x12`);
    expect(bad.status).toBe(400);
  });

  // A lying gateway names another task than its session's stack is on (another model's level-3 task, whose allow-list
  // it might like better), or none: the client reads the stack's task on the chain and refuses before it asks for
  // evidence or seals anything. And a measurement the task's allow-list drops is refused through the gateway too.
  it("refuses a session naming another task than its stack's, or a node the task's allow-list no longer takes", async () => {
    const victim = (await gateway.keys.create({ name: "task-liar's victim" })).key;
    const sent: string[] = [];
    const lying =
      (rewrite: (session: Record<string, unknown>) => void): typeof fetch =>
      async (input, init) => {
        const url = new URL(String(input));
        sent.push(url.pathname);
        const answer = await fetch(input, init);
        if (url.pathname !== "/v1/confidential/sessions" || answer.status !== 201) return answer;
        const session = (await answer.json()) as Record<string, unknown>;
        rewrite(session);
        return Response.json(session, { status: 201 });
      };
    const liar = (rewrite: (session: Record<string, unknown>) => void) =>
      client(victim, { fetch: lying(rewrite), attempts: 1 });
    await expect(
      liar((session) => {
        session.task_id = String(otherModelTaskId);
      }).chat(chat(`another task ${MARKER}`)),
    ).rejects.toThrow(`names task ${otherModelTaskId}, but its stack is on task ${taskId}`);
    await expect(
      liar((session) => {
        delete session.task_id;
      }).chat(chat(`no task ${MARKER}`)),
    ).rejects.toThrow("names no task");
    // A stack bought while the measurement was allowed (the chain refuses to sell one after), then it is dropped.
    remember(await client().chat(chat(`before the drop ${MARKER}`)));
    const measurement = measurementHash("dev", MEASURED);
    await setAllowedMeasurement(network.admin, { taskId, measurement, allowed: false });
    try {
      await expect(liar(() => undefined).chat(chat(`dropped ${MARKER}`))).rejects.toThrow(
        `which task ${taskId} does not take now (Measurement)`,
      );
    } finally {
      await setAllowedMeasurement(network.admin, { taskId, measurement, allowed: true });
    }
    expect(sent.filter((path) => path.endsWith("/attestation") || path === CHAT)).toEqual([]);
    expect(sent.filter((path) => path === "/v1/confidential/sessions")).toHaveLength(3);
  });

  // A gateway fakes the node's 429 on every fresh nonce to have the client accept epoch evidence (older, and
  // replayable within the epoch). The client waits the 429 out once and asks for the same nonce again, then fails:
  // it never asks for the epoch evidence unless its caller opted in.
  it("a gateway faking the node's 429 cannot make the client take epoch evidence: it asks fresh again, then fails", async () => {
    const victim = (await gateway.keys.create({ name: "fake-429's victim" })).key;
    const asked: string[] = [];
    const faking: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      if (url.pathname === "/v1/confidential/sessions") {
        // The sessions here last 2 s: the gateway says a minute, so that the client's wait is not cut short by it.
        const session = (await (await fetch(input, init)).json()) as Record<string, unknown>;
        return Response.json({ ...session, expires_at: Math.floor(Date.now() / 1000) + 60 }, { status: 201 });
      }
      if (!url.pathname.endsWith("/attestation")) return fetch(input, init);
      asked.push(url.searchParams.get("nonce") ?? "epoch");
      if (!url.searchParams.has("nonce")) return fetch(input, init);
      return Response.json(
        {
          error: {
            message: "spent",
            type: "rate_limit_error",
            param: null,
            code: "attestation_rate_limited",
          },
        },
        { status: 429, headers: { "retry-after": "1" } },
      );
    };
    const started = Date.now();
    const refused = await client(victim, { fetch: faking, attestationWaitMs: 1_500, epochEvidence: false })
      .chat(chat(`fake 429 ${MARKER}`))
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 429, gatewayCode: "attestation_rate_limited" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toBe(asked[0]);
    expect(asked).not.toContain("epoch");
  });

  // Griefer: one user of the gateway spends the node's fresh quotes for the gateway's address. The others get a 429
  // passed through as an error (never as evidence) and are served on the node's epoch evidence.
  it("passes the node's quote limit on as a 429, never as evidence; the SDK fails, or takes epoch evidence if asked to", async () => {
    const pinned = (node: DevNode) =>
      openSession({ ignore: [String((node === flaky ? steady : flaky).nodeId)] }, otherKey);
    const ask = (session: SessionBody, i: number) =>
      call(
        `/v1/confidential/sessions/${session.id}/attestation?nonce=0x${i.toString(16).padStart(64, "0")}`,
        {
          key: otherKey,
        },
      );
    // A session asks the node for two fresh quotes at most: a key looping over nonces is refused by the gateway.
    const looped = await pinned(flaky);
    expect(looped.node_id).toBe(String(flaky.nodeId));
    for (const i of [1, 2]) await (await ask(looped, i)).body?.cancel();
    const capped = await ask(looped, 3);
    expect(capped.status).toBe(429);
    expect(await codeOf(capped)).toBe("attestation_rate_limited");
    // Those two spent the node's budget for the gateway's address (burst 2): the node refuses the next nonce.
    const next = await pinned(flaky);
    const limited = await ask(next, 4);
    expect(limited.status).toBe(429);
    // The other node's budget spent as well: whichever node the next chat lands on has no fresh quote to give.
    const other = await pinned(steady);
    expect(other.node_id).toBe(String(steady.nodeId));
    for (const i of [5, 6]) await (await ask(other, i)).body?.cancel();
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await limited.json()) as { evidence?: unknown; error: { code: string; type: string } };
    expect(body.evidence).toBeUndefined();
    expect(body.error).toMatchObject({ code: "attestation_rate_limited", type: "rate_limit_error" });
    // Told never to act on a 429 (epochEvidence: false), the client fails.
    const strict = await client(apiKey, { attestationWaitMs: 0, epochEvidence: false })
      .chat(chat(`fresh only ${MARKER}`))
      .catch((error: unknown) => error);
    expect(strict).toMatchObject({ gatewayCode: "attestation_rate_limited" });
    // By default (issue 14, review: one user draining the gateway's share of the node's quotes): the epoch evidence
    // the chain's record names.
    const answer = remember(await client(apiKey, { attestationWaitMs: 0 }).chat(chat(`epoch ${MARKER}`)));
    expect(answer.freshness.kind).toBe("epoch");
    expect(answer.attestation.label).toBe("insecure, development");
    // Issue 14, C-2: the statement the node served beside it is kept, and what each key paid on each stack (journaled
    // with the charge: in the database once the journal is applied), by which its refunds are split.
    await expect
      .poll(
        async () =>
          (await gateway.db.selectFrom("stack_charges").select("charged_wei").execute()).filter(
            (row) => BigInt(row.charged_wei) > 0n,
          ).length,
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    expect((await gateway.db.selectFrom("served_statements").selectAll().execute()).length).toBeGreaterThan(
      0,
    );
  });

  // A lying gateway claims the node's quotes are spent and serves an epoch evidence of an earlier epoch: refused
  // (it binds another epoch than the chain's, and is not the evidence the chain's record names).
  it("refuses an earlier epoch's evidence a gateway replays after a 429 of its own", async () => {
    const lying: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      if (!url.pathname.endsWith("/attestation")) return fetch(input, init);
      if (url.searchParams.has("nonce"))
        return Response.json(
          {
            error: {
              message: "spent",
              type: "rate_limit_error",
              param: null,
              code: "attestation_rate_limited",
            },
          },
          { status: 429, headers: { "retry-after": "1" } },
        );
      return Response.json(staleEpochAnswer);
    };
    const liar = client(apiKey, { attestationWaitMs: 0, fetch: lying });
    await expect(liar.chat(chat(`stale ${MARKER}`))).rejects.toThrow(/bind|epoch|record/);
  });

  // Squatter: one key opens sessions it never uses to hold every level-3 stack of the model. It holds at most its
  // share (3 of the gateway's 4 stacks a model here): the next is refused while another key is still served.
  it("bounds open sessions per key and model: a key squatting the model's stacks holds its share; a session never used gives back its nonce", async () => {
    // The sessions earlier tests left unused have expired, and their cool-down (a session's time) is over.
    await new Promise((resolve) => setTimeout(resolve, 4_600));
    const held = [await openSession(), await openSession(), await openSession()];
    const spam = await call("/v1/confidential/sessions", { body: { model: MODEL, max_units: 2_000 } });
    expect(spam.status).toBe(429);
    const refusal = ((await spam.json()) as { error: { code: string; message: string } }).error;
    expect(refusal.code).toBe("confidential_sessions_exceeded");
    expect(refusal.message).toContain(`3 open confidential sessions for ${MODEL}`);
    expect(Number(spam.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another key is not held back by this one's sessions: the model's other stacks serve it.
    const other = await openSession({}, otherKey);
    expect(new Set([...held, other].map((s) => s.stack_id)).size).toBe(4);
    // They expire unused (2 s): the stacks, budgets and nonces come back.
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    // The squatter re-opening at once is refused: its expired sessions count for a cool-down after them.
    const reopen = await call("/v1/confidential/sessions", { body: { model: MODEL, max_units: 2_000 } });
    expect(reopen.status).toBe(429);
    // Past the cool-down (a session's time, 2 s), it is served again.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const first = held[0]!;
    const next = await openSession({
      ignore: [first.node_id === String(flaky.nodeId) ? String(steady.nodeId) : String(flaky.nodeId)],
    });
    expect(next.node_id).toBe(first.node_id);
    const sameStack = [...held, other].find((s) => s.stack_id === next.stack_id);
    expect(sameStack).toBeDefined();
    expect(next.nonce).toBe(sameStack!.nonce);
    // Used: the node takes that nonce as the stack's next leaf (nothing was skipped).
    const sealed = await sealFor(next, `after expiry ${MARKER}`);
    const served = await call(CHAT, { body: sealed.body, session: next.id });
    expect(served.status).toBe(200);
    answered++;
    const json = (await served.json()) as { atoma: { leaf_index: string } };
    expect(json.atoma.leaf_index).toBe(next.nonce);
  });

  it("fails over: a node that fails a sealed request gets none again, and the SDK seals anew for another", async () => {
    failSealed = true;
    try {
      const answers: ConfidentialAnswer[] = [];
      for (let i = 0; i < 4 && !answers.some((a) => a.failedNodes.length > 0); i++)
        answers.push(remember(await client().chat(chat(`failover ${i} ${MARKER}`))));
      const failedOver = answers.find((a) => a.failedNodes.length > 0);
      // Which nodes served, when no session went to the flaky node (it ranks first by price unless measured slow).
      expect(failedOver, `served by ${answers.map((a) => a.nodeId).join(", ")}`).toBeDefined();
      expect(failedOver!.failedNodes).toEqual([flaky.nodeId]);
      for (const answer of answers) expect(answer.nodeId).toBe(steady.nodeId);
    } finally {
      failSealed = false;
    }
  });

  it("gives up a failed sealed request once past its deadline: its node's stack serves the next session", async () => {
    // The failover left a sealed request signed on the flaky node's stack with no receipt. Signed again with a new
    // deadline it could never open, so past its deadline its nonce is given up rather than the stack stuck.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const receipts = await gateway.db.selectFrom("receipts").select(["stack_id", "leaf_index"]).execute();
    const received = new Set(receipts.map((r) => `${r.stack_id}:${r.leaf_index}`));
    const signed = await gateway.db.selectFrom("signed_requests").selectAll().execute();
    const pending = signed.filter((r) => !received.has(`${r.stack_id}:${r.nonce}`));
    expect(pending).toHaveLength(1);
    const failed = pending[0]!;
    expect(failed.json?.startsWith('{"atoma_confidential"')).toBe(true);
    // Sessions hold their stacks: open them at the flaky node until one holds the stack the failure is on.
    let session: SessionBody | undefined;
    let key = apiKey;
    for (const next of [apiKey, apiKey, apiKey, otherKey, otherKey, otherKey]) {
      const opened = await openSession({ ignore: [String(steady.nodeId)] }, next);
      expect(opened.node_id).toBe(String(flaky.nodeId));
      if (BigInt(opened.stack_id) !== failed.stack_id) continue;
      session = opened;
      key = next;
      break;
    }
    if (!session) throw new Error("no session got the stack of the failed request");
    // Its nonce is the failed request's: past its deadline the sealed request is given up, not signed again.
    expect(BigInt(session.nonce)).toBe(failed.nonce);
    const sealed = await sealFor(session, `after a failure ${MARKER}`, key);
    const served = await call(CHAT, { body: sealed.body, session: session.id, key });
    expect(served.status).toBe(200);
    answered++;
    const json = (await served.json()) as { atoma: { leaf_index: string } };
    expect(json.atoma.leaf_index).toBe(session.nonce);
  });

  // The network (or a gateway restarting its connection) cuts a sealed stream after chunks reached the client; the
  // node, with nothing committed, opens the resend afresh under a new salt. Stitching the new answer's later chunks
  // onto the first's would not open (and would mix two answers): the relay restarts, the client reads the new one.
  it("a sealed stream cut and resent with a new answer: the relay restarts it, the client reads the new one whole", async () => {
    cutStream = true;
    try {
      const seen: unknown[] = [];
      let restarts = 0;
      const answer = remember(
        await client().chat(
          { ...chat(`Tell a long story about ${MARKER}`), max_tokens: 48 },
          (chunk) => seen.push(chunk),
          () => {
            restarts++;
            seen.length = 0;
          },
        ),
      );
      expect(cuts).toBe(1);
      expect(answer.nodeId).toBe(flaky.nodeId);
      expect(answer.failedNodes).toEqual([]);
      expect(restarts).toBe(1);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen).toEqual(answer.response.chunks);
    } finally {
      cutStream = false;
    }
  });

  it("a task that requires GPUs: the client checks the node's GPU token whatever its policy, and refuses a node that strips it", async () => {
    const nras = await generateKeyPair("ES384", { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(nras.publicKey)), kid: "nras", alg: "ES384", use: "sig" }] };
    flakyGpuToken = (reportData) =>
      new SignJWT({ eat_nonce: gpuNonceFor(reportData).slice(2), "x-nvidia-overall-att-result": true })
        .setProtectedHeader({ alg: "ES384", kid: "nras" })
        .setIssuer("https://nras.attestation.nvidia.com")
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(nras.privateKey);
    // The flaky node re-attests with its GPU token: its record declares GPU evidence, the steady node's does not.
    await computes[0]!.rotateKey();
    await until(
      () => getAttestation(network.admin, flaky.nodeId),
      (record) => record?.gpu === true,
    );
    await setGpuRequired(network.admin, { taskId, required: true });
    const lenient = { ...policy, gpu: { jwks, required: false } };
    // A key each: a refused session stays open until it expires, and the tests after this one use the first key.
    const keyFor = async (name: string) => (await gateway.keys.create({ name })).key;
    try {
      // The token served and checked: the client is served, by the node that attested its GPUs (a client that said
      // GPU evidence was optional has it checked all the same on this task).
      const answer = remember(
        await client(await keyFor("gpu-checked"), { policy: lenient }).chat(chat(`Say hi to ${MARKER}`)),
      );
      expect(answer.nodeId).toBe(flaky.nodeId);
      // The node strips the token it declared (its epoch evidence still matches the record, which hashes the quote).
      stripGpuToken = true;
      await expect(
        client(await keyFor("gpu-strip"), { policy: lenient }).chat(chat(`gpu ${MARKER}`)),
      ).rejects.toThrow(/requires GPU evidence and node \d+ sent none/);
      stripGpuToken = false;
      // A client that cannot check the token (no NVIDIA key set) is not served on such a task either: refused at the
      // flaky node, or at the steady one the gateway turns to while the flaky one cools down (its record declares
      // no GPUs, so the task does not take it).
      await expect(client(await keyFor("gpu-blind")).chat(chat(`gpu ${MARKER}`))).rejects.toThrow(
        /give NVIDIA's key set|does not take now \(Gpu\)/,
      );
    } finally {
      stripGpuToken = false;
      await setGpuRequired(network.admin, { taskId, required: false });
    }
  });

  it("createAtomaClient({ gateway, chain, confidential }) seals for the node the gateway picked: nothing it receives holds the prompt", async () => {
    // A recording front: every byte the gateway gets from this client passes through it.
    const received: string[] = [];
    const recorder = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      received.push(`${req.method} ${req.url} ${body.toString("latin1")}`);
      const answer = await fetch(new URL(req.url ?? "/", gateway.url), {
        method: req.method ?? "GET",
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(
            ([name]) => !["host", "connection", "content-length"].includes(name),
          ),
        ) as Record<string, string>,
        ...(req.method === "POST" ? { body } : {}),
      });
      res.writeHead(answer.status, Object.fromEntries(answer.headers));
      if (answer.body) for await (const chunk of answer.body) res.write(chunk);
      res.end();
    });
    const port = await listen(recorder);
    try {
      const sealing = createAtomaClient({
        gateway: { url: `http://127.0.0.1:${port}`, apiKey },
        chain: {
          rpcUrl: network.anvil.rpcUrl,
          chainId: network.anvil.chainId,
          contracts: network.deployment.addresses,
        },
        // The chain's allow-list, no local one; dev evidence only because this root is named here. The nodes' fresh
        // quotes for the gateway are spent by now: by default the client takes the epoch evidence the chain names.
        confidential: { devRootCertificatePem: policy.dev!.rootCertificatePem },
      });
      const plain = await sealing.chat(chat(`Say hello to ${MARKER}`));
      const seen: unknown[] = [];
      const streamed = await sealing.chatStream(chat(`Tell a story about ${MARKER}`), (chunk) =>
        seen.push(chunk),
      );
      for (const answer of [plain, streamed]) {
        answered++;
        expect(answer.verdict?.ok).toBe(true);
        expect(answer.attestation?.ok).toBe(true);
        expect(answer.attestation?.label).toBe("insecure, development");
        expect(answer.sealed).toBeDefined();
        const text = (answer.response.choices as { message: { content: string } }[])[0]!.message.content;
        if (text.trim().length >= 12) opened.push(text.trim());
      }
      expect(seen.length).toBeGreaterThan(0);
      // Every sealed chunk the gateway relayed is one of the bucket sizes: no token's length shows.
      const chunks = (streamed.sealed as { chunks: string[] }).chunks;
      for (const [i, chunk] of chunks.entries())
        expect(SEALED_CHUNK_BUCKETS).toContain((chunk.length - 2) / 2 - 9 - 16 - (i === 0 ? 32 : 0));
      expect(received.some((line) => line.startsWith("POST /v1/chat/completions"))).toBe(true);
      for (const line of received) {
        expect(line.includes(MARKER)).toBe(false);
        for (const text of opened) expect(line.includes(text)).toBe(false);
      }
    } finally {
      recorder.close();
    }
  });

  it("never stores or logs the plaintext: the marker and the opened answers are nowhere it wrote", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    gatewayStopped = true;
    await gateway.stop();
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(join(root, "proxy"));
    const stored = files.map((path) => readFileSync(path).toString("latin1"));
    const logs = logLines.join("\n");
    // The control: the envelopes the gateway signed are in its database (it keeps what it signed).
    expect(envelopes.some((enc) => stored.some((text) => text.includes(enc.slice(2))))).toBe(true);
    expect(opened.length).toBeGreaterThan(2);
    for (const secret of [MARKER, ...opened]) {
      expect(logs.includes(secret)).toBe(false);
      for (const text of stored) expect(text.includes(secret)).toBe(false);
    }
  });

  it("settled every key from the receipts: the answers' cost charged, expired sessions and failures free", async () => {
    const { db, close } = await openGatewayDatabase({ kind: "embedded", dir: join(root, "proxy", "db") });
    try {
      const stacks = await db.selectFrom("stacks").selectAll().execute();
      const price = new Map(stacks.map((stack) => [stack.stack_id, stack.price_per_million]));
      const receipts = await db.selectFrom("receipts").selectAll().execute();
      expect(receipts.length).toBe(answered);
      const cost = receipts.reduce(
        (sum, r) => sum + costOfUnits(BigInt(r.receipt.units ?? "0"), price.get(r.stack_id)!),
        0n,
      );
      const keys = await db.selectFrom("api_keys").selectAll().orderBy("created_at_ms").execute();
      const [, other] = keys;
      // The first key's answers and the GPU test's (a key of its own) are all the receipts: each key paid its own.
      expect(keys.reduce((sum, key) => sum + key.spent_wei, 0n)).toBe(cost);
      expect(other!.spent_wei).toBe(0n);
      const refused = keys.filter((key) => key.name === "gpu-strip" || key.name === "gpu-blind");
      expect(refused.map((key) => key.spent_wei)).toEqual([0n, 0n]);
      for (const key of keys) expect(key.reserved_wei).toBe(0n);
      expect(await db.selectFrom("spend_reservations").selectAll().execute()).toEqual([]);
    } finally {
      await close();
    }
  });
});
