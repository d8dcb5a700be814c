import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTranscript, leafHash, leafOf, stackRoot, verifyTranscript } from "@atoma/core";
import { ensureTinyModel } from "@atoma/engine";
import { type SignedStackRequest, StackClient, type Verified } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freezeForSettlement } from "../src/accounting/freezeForSettlement.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { dropSchema } from "../src/devnet/dropSchema.js";
import { buildSettlement } from "../src/settlement/buildSettlement.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";
import { databaseUrl } from "./helpers/stateDatabases.js";

const root = mkdtempSync(join(tmpdir(), "atoma-api-crash-"));
const child = fileURLToPath(new URL("./fixtures/apiNodeChild.ts", import.meta.url));
/** One client per stack: a stack takes one request at a time, in nonce order. */
const CLIENTS = 6;
const STACKS = CLIENTS;
const BEFORE_KILL = 30;

let network: StackNetwork;
let server: RegisteredNode;
let owner: Awaited<ReturnType<StackNetwork["owner"]>>;
let taskId: bigint;

beforeAll(async () => {
  network = await startStackNetwork();
  [server] = (await network.registerNodes(1)) as [RegisteredNode];
  taskId = await network.newTask([server]);
  await network.nextEpoch();
  owner = await network.owner();
}, 120_000);
afterAll(async () => {
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Starts the node child; resolves once it serves every stack. */
async function startChild(env: Record<string, unknown>): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", child], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ATOMA_TEST_NODE: JSON.stringify(env) },
  });
  let stderr = "";
  proc.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    proc.once("exit", (code) => reject(new Error(`node child exited with ${code}: ${stderr}`)));
  });
  return proc;
}

const exitOf = (proc: ChildProcess) =>
  proc.exitCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => proc.once("exit", () => resolve()));

interface Pending {
  client: StackClient;
  stackId: bigint;
  signed: SignedStackRequest;
  stream: boolean;
}

const variants = [{ name: "embedded", url: undefined as string | undefined }];
if (databaseUrl) variants.push({ name: "postgres", url: databaseUrl });
else describe.skip("kill -9 on PostgreSQL (DATABASE_URL is unset)", () => {});

describe.each(variants)("a node killed with SIGKILL under load ($name database)", ({ name, url }) => {
  it("keeps exactly the units of the answers clients got, and every stack still settles", async () => {
    const model = ensureTinyModel();
    const stackIds: bigint[] = [];
    for (let i = 0; i < STACKS; i++)
      stackIds.push((await network.buy(owner.ctx, taskId, 1_000_000n)).stackId);
    const schema = url ? `atoma_crash_${process.pid}_${Date.now()}` : undefined;
    const env = {
      rpcUrl: network.anvil.rpcUrl,
      chainId: network.anvil.chainId,
      contracts: network.contracts,
      privateKey: server.signerKey,
      port: await freePort(),
      dataDir: join(root, name),
      modelPath: model.path,
      modelId: model.id,
      databaseUrl: url,
      schema,
      stacks: stackIds.map(String),
    };
    let proc = await startChild(env);
    const nodeUrl = `http://127.0.0.1:${env.port}`;
    const clients = Array.from({ length: CLIENTS }, (_, i) => {
      const stackId = stackIds[i % STACKS]!;
      return {
        stackId,
        client: new StackClient({
          nodeUrl,
          account: owner.account,
          stackId,
          chainId: network.anvil.chainId,
          stackManager: network.addresses.StackManager,
          nodeSigner: server.signerAccount.address,
          nodeId: server.nodeId,
          resends: 0,
        }),
      };
    });
    const received: { stackId: bigint; verified: Verified }[] = [];
    const pending: Pending[] = [];
    let killed = false;

    const send = (p: Pending) =>
      p.stream
        ? p.client.sendStream("/v1/chat/completions", p.signed)
        : p.client.send("/v1/chat/completions", p.signed);
    const load = clients.map(async ({ client, stackId }, i) => {
      for (let k = 0; !killed; k++) {
        const stream = (i + k) % 2 === 0;
        const body = {
          model: model.id,
          messages: [{ role: "user", content: `client ${i} request ${k}` }],
          max_tokens: 6 + ((i * 7 + k) % 24),
          stream,
        };
        const request: Pending = { client, stackId, signed: await client.sign(body), stream };
        try {
          received.push({ stackId, verified: await send(request) });
        } catch (error) {
          if (!killed) throw error;
          pending.push(request);
        }
      }
    });
    while (received.length < BEFORE_KILL) await new Promise((resolve) => setTimeout(resolve, 10));
    killed = true;
    proc.kill("SIGKILL");
    await exitOf(proc);
    await Promise.all(load);
    expect(pending.length).toBeGreaterThan(0);

    proc = await startChild(env);
    // Each request in flight at the kill is answered on its resend: from the records when it was committed,
    // and served afresh otherwise (its reservation was released at start, and its nonce is the stack's next).
    for (const request of pending) received.push({ stackId: request.stackId, verified: await send(request) });
    proc.kill("SIGTERM");
    await exitOf(proc);

    const state = await openStateDatabase(
      url
        ? { kind: "postgres", url, schema: schema!, poolSize: 2 }
        : { kind: "embedded", dir: join(env.dataDir, "db") },
    );
    try {
      for (const stackId of stackIds) {
        const got = received.filter((r) => r.stackId === stackId).map((r) => r.verified.fields);
        got.sort((a, b) => Number(a.leafIndex - b.leafIndex));
        const snapshot = await freezeForSettlement(state.db, stackId);
        expect(snapshot.leaves.map((leaf) => leaf.leafIndex)).toEqual(got.map((fields) => fields.leafIndex));
        expect(snapshot.unitsClaimed).toBe(got.reduce((sum, fields) => sum + fields.units, 0n));
        expect(snapshot.stack.unitsReserved).toBe(0n);
        const clientRoot = stackRoot(got.map((fields) => leafHash(leafOf(fields))));
        const built = buildSettlement(snapshot, {
          chainId: network.anvil.chainId,
          stacks: network.addresses.StackManager,
        });
        expect(built.root).toBe(clientRoot);
        const audited = await verifyTranscript(decodeTranscript(built.transcript), {
          owner: owner.account.address,
          stackId,
          domain: network.domain,
          root: clientRoot,
          units: snapshot.unitsClaimed,
          requestCount: BigInt(got.length),
        });
        expect(audited.reqHashes).toEqual(got.map((fields) => fields.reqHash));
      }
    } finally {
      await state.close();
      if (url && schema) await dropSchema(url, schema);
    }
  }, 240_000);
});
