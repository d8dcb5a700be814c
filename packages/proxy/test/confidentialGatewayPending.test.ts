import { mkdtempSync, rmSync } from "node:fs";
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
} from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import {
  type AttestationPolicy,
  createDevAuthority,
  type HexString,
  issueDevAttestationKey,
  type TdMeasurements,
} from "@atoma/confidential";
import { costOfUnits, measurementHash, SEALED_RESTART_OBJECT } from "@atoma/core";
import type { EmbeddedEngine } from "@atoma/engine";
import { type AtomaNode, ConfidentialCompute, devEvidenceSource } from "@atoma/node";
import { apiNode, startTinyEngine } from "@atoma/node/devnet";
import { type ConfidentialAnswer, gatewayConfidentialClient } from "@atoma/sdk/gateway-confidential";
import { pino } from "pino";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { type Gateway, startGateway } from "../src/service/startGateway.js";

/** In every confidential prompt: it must appear nowhere the gateway writes. */
const MARKER = "walrus-cobalt-4417-gateway-marker";
const MODEL = "atoma-tiny";
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
let apiKey: string;
let otherKey: string;
let policy: AttestationPolicy;
/** While set, the flaky node's front fails every sealed request with a 500 (its evidence still served). */
let failSealed = false;
let front: Server;
/** While set, the flaky node's front cuts the next sealed stream after its first event (once). */
let cutStream = false;
/** While set, a cut stream leaves the front failing sealed requests (`failSealed`): its resends fail too. */
let failAfterCut = false;

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
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    let text = "";
    if (answer.body)
      for await (const chunk of answer.body) {
        await new Promise((resolve) => res.write(chunk, resolve));
        if (!cut) continue;
        text += Buffer.from(chunk).toString();
        if (!text.includes("\n\n")) continue;
        // Leaving the loop cancels the node's answer: the node sees its client gone.
        if (failAfterCut) failSealed = true;
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
    // The nodes give few fresh quotes (then hardly any): once spent, these tests go on on the epoch evidence the
    // chain's record names (they are not about freshness).
    epochEvidence: true,
    ...extra,
  });

const chat = (content: string) => ({
  model: MODEL,
  messages: [{ role: "user", content }],
  max_tokens: 32,
  seed: 5,
});

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
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED),
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
    if (node === flaky) flakyUrl = started.url;
    nodes.push(started);
    await until(
      () => getAttestation(network.admin, node.nodeId),
      (record) => record !== undefined,
    );
  }
  const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.Confidential });
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
      routing: { cooldownMs: 200 },
      confidential: { sessionTtlMs: 30_000, maxSessionsPerKey: 8, deadlineSlackSeconds: 120 },
    },
    { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId, contracts: network.deployment.addresses },
  );
  const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
  gateway = await startGateway(config, { account: privateKeyToAccount(wallet.privateKey), logger });
  apiKey = (await gateway.keys.create({ name: "confidential" })).key;
  otherKey = (await gateway.keys.create({ name: "other" })).key;
}, 240_000);

afterAll(async () => {
  await gateway?.stop();
  for (const node of nodes) await node.stop();
  front?.close();
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("a sealed stream left pending on a stack is never relayed to the next session (review3 H-2)", () => {
  it("the next client (another key) sees only its own answer: the pending one is settled unread", async () => {
    failSealed = true;
    const first = await client(apiKey, { attempts: 1 })
      .chat(chat(`first ${MARKER}`), () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    failSealed = false;
    expect(first).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const shown: unknown[] = [];
    const second = await client(otherKey, { attempts: 1 })
      .chat(chat(`second ${MARKER}`), (chunk) => shown.push(chunk))
      .then(
        (a) => a,
        (e: unknown) => e,
      );
    // The old request (sealed to key 1's session) is resent first and settled by the gateway, unread: none of its
    // chunks reach key 2's client, which opens its own answer.
    expect(second).not.toBeInstanceOf(Error);
    const answer = second as ConfidentialAnswer;
    expect(answer.response).toBeDefined();
    expect(shown.length).toBeGreaterThan(0);
    const third = await client(otherKey, { attempts: 1 }).chat(chat(`third ${MARKER}`), () => undefined);
    expect(third.response).toBeDefined();
  }, 120_000);
});

/**
 * A fetch on the client's side that lets the first sealed stream through up to its first sealed chunk, then ends it
 * with the gateway's `node_failed` error event (what a node failing mid-answer looks like to the client).
 */
function failFirstStreamAfterOneChunk(): typeof fetch {
  let failed = false;
  return async (input, init) => {
    const answer = await fetch(input, init);
    if (failed || !answer.body || !answer.headers.get("content-type")?.includes("text/event-stream"))
      return answer;
    failed = true;
    const text = await answer.text();
    const events = text.split("\n\n").filter((e) => e.length > 0);
    const first = events.findIndex((e) => e.includes('"atoma.confidential.chunk"'));
    const error = `data: ${JSON.stringify({ error: { message: "node failed", type: "server_error", code: "node_failed" } })}`;
    return new Response(`${[...events.slice(0, first + 1), error].join("\n\n")}\n\n`, {
      status: 200,
      headers: { "content-type": "text/event-stream" },
    });
  };
}

/**
 * A fetch that puts a restart event after the first sealed chunk of the first stream, as a gateway relaying a
 * resend's new answer sends it (review s13 LOW-3: without `onRestart` the client went on and spliced).
 */
function restartAfterOneChunk(): typeof fetch {
  let done = false;
  return async (input, init) => {
    const answer = await fetch(input, init);
    if (done || !answer.body || !answer.headers.get("content-type")?.includes("text/event-stream"))
      return answer;
    done = true;
    const events = (await answer.text()).split("\n\n").filter((e) => e.length > 0);
    const first = events.findIndex((e) => e.includes('"atoma.confidential.chunk"'));
    const restart = `data: ${JSON.stringify({ object: SEALED_RESTART_OBJECT })}`;
    return new Response(
      `${[...events.slice(0, first + 1), restart, ...events.slice(first + 1)].join("\n\n")}\n\n`,
      {
        status: 200,
        headers: { "content-type": "text/event-stream" },
      },
    );
  };
}

const contentShown = (chunks: Record<string, unknown>[]) =>
  chunks
    .map((c) => (c.choices as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content ?? "")
    .join("");

describe("a failover after chunks were shown never splices two answers (review3 M-1)", () => {
  it("a node_failed event after one shown chunk: onRestart is called before the next node's answer is shown", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    let shown: Record<string, unknown>[] = [];
    let restarts = 0;
    const answer = await client(otherKey, { attempts: 3, fetch: failFirstStreamAfterOneChunk() }).chat(
      chat(`failover mid-stream ${MARKER}`),
      (chunk) => shown.push(chunk),
      () => {
        restarts++;
        shown = [];
      },
    );
    expect(answer.failedNodes.length).toBe(1);
    expect(restarts).toBe(1);
    // What the user sees since the last restart is exactly the answer returned.
    expect(contentShown(shown)).toBe(answer.response.content);
  }, 120_000);

  it("with no onRestart, a failover after a shown chunk throws rather than show another node's answer", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const shown: Record<string, unknown>[] = [];
    const outcome = await client(otherKey, { attempts: 3, fetch: failFirstStreamAfterOneChunk() })
      .chat(chat(`no restart ${MARKER}`), (chunk) => shown.push(chunk))
      .then(
        (a) => a,
        (e: unknown) => e,
      );
    expect(shown.length).toBe(1);
    expect((outcome as { gatewayCode?: string }).gatewayCode).toBe("node_failed");
  }, 120_000);

  it("with no onRestart, a gateway restart event after a shown chunk throws rather than splice", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const shown: Record<string, unknown>[] = [];
    const outcome = await client(otherKey, { attempts: 1, fetch: restartAfterOneChunk() })
      .chat(chat(`restart event ${MARKER}`), (chunk) => shown.push(chunk))
      .then(
        (a) => a,
        (e: unknown) => e,
      );
    expect(shown.length).toBe(1);
    expect(outcome).toMatchObject({ name: "SealedAnswerError", failure: "answer_restarted" });
  }, 120_000);
});

// The node's stream is cut after a sealed chunk reached the client and every resend fails: the key is charged its
// whole reservation (the node may bill the leaf up to the bound signed). That charge is held, not final: when the
// stack's next session resends the request, the node's receipt says what the leaf cost, and the key is charged
// exactly that, the rest given back once (review3 M-3).
describe("a sealed stream with no receipt is charged what the node's receipt later says (review3 M-3)", () => {
  it("holds the whole reservation, then settles it at the resent request's receipt: no unit lost or charged twice", async () => {
    const cutKey = (await gateway.keys.create({ name: "cut" })).key;
    const nextKey = (await gateway.keys.create({ name: "next" })).key;
    cutStream = true;
    failAfterCut = true;
    const shown: unknown[] = [];
    const cut = await client(cutKey, { attempts: 1 })
      .chat(
        chat(`cut ${MARKER}`),
        (chunk) => shown.push(chunk),
        () => undefined,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    failAfterCut = false;
    failSealed = false;
    cutStream = false;
    expect(cut).toMatchObject({ gatewayCode: "confidential_session_failed" });
    // The held leaf is written with its charge, through the journal: read once applied.
    const [held] = await until(
      () => gateway.db.selectFrom("sealed_charges").selectAll().execute(),
      (rows) => rows.length > 0,
      10_000,
    );
    expect(held).toBeDefined();
    const cutKeyId = (await gateway.db.selectFrom("api_keys").select(["key_id", "name"]).execute()).find(
      (k) => k.name === "cut",
    )!.key_id;
    expect(held!.key_id).toBe(cutKeyId);
    expect(held!.charged_wei).toBe(costOfUnits(2_000n, parseEther("10")));
    // The next sessions at that node (the cheaper, once its cool-down is over): one of them holds the stack, and
    // resends the cut request first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 4; i++) {
      await client(nextKey, { attempts: 1 }).chat(chat(`next ${i} ${MARKER}`));
      if ((await gateway.db.selectFrom("sealed_charges").selectAll().execute()).length === 0) break;
    }
    expect(await gateway.db.selectFrom("sealed_charges").selectAll().execute()).toEqual([]);
    // Receipts reach the database through the journal: read once written.
    const receipt = await until(
      () =>
        gateway.db
          .selectFrom("receipts")
          .selectAll()
          .where("stack_id", "=", held!.stack_id)
          .where("leaf_index", "=", held!.nonce)
          .executeTakeFirst(),
      (row) => row !== undefined,
      10_000,
    ).then((row) => row!);
    const units = BigInt(receipt.receipt.units ?? "0");
    expect(units).toBeGreaterThan(0n);
    // The receipt's units, and never less than the session's hold for the time it held the stack (its floor).
    expect(held!.floor_wei).toBeGreaterThan(0n);
    const receiptCost = costOfUnits(units, held!.price_per_million);
    // biome-ignore lint/complexity/useMathMinMax: bigints
    const expected = receiptCost > held!.floor_wei ? receiptCost : held!.floor_wei;
    expect(expected).toBeLessThan(held!.charged_wei);
    const spent = await until(
      async () =>
        (
          await gateway.db
            .selectFrom("api_keys")
            .select("spent_wei")
            .where("key_id", "=", cutKeyId)
            .executeTakeFirstOrThrow()
        ).spent_wei,
      (value) => value === expected,
      10_000,
    );
    expect(spent).toBe(expected);
  }, 120_000);
});
