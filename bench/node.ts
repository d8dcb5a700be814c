// Stack API: tokens/s through the node (signed, accounted, receipts verified) vs the engine directly, added latency, rps.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buyStack, SecurityLevel } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, startDevnet } from "@atoma/chain/devnet";
import { apiNode, dropSchema, startTinyEngine, waitForStack } from "@atoma/node/devnet";
import { StackClient, signStackRequest, verifyReceipt } from "@atoma/sdk";
import { parseEther } from "viem";
import { percentile, report, timeMs } from "./lib/report.js";

const TOKENS = 128;
const ROUNDS = 11;
const LATENCY_PAIRS = 60;
const RPS_CLIENTS = 8;
const RPS_SECONDS = 5;
/** Units of each stack the memory phase buys: enough for its load, little of the nodes' stake. */
const MEMORY_STACK_UNITS = 100_000n;
/** How long the node process sits with nothing to do before its idle memory is read. */
const IDLE_MS = 2_000;
/** Units of each stack bought (far more than a client uses), and what each node bonds to the task. */
const STACK_UNITS = 10_000_000n;
const SUBSCRIPTION_COLLATERAL = parseEther("900");
/** Best of the rounds: on a shared machine the fastest run is the one least disturbed by other work. */
const best = (values: number[]) => percentile(values, 0);

const network = await startDevnet();
const { engine, model } = await startTinyEngine();
const { modelId } = await network.registerModel({ name: model.id });
const servers = [await network.addNode(), await network.addNode()];
const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.None });
// Most of each node's stake backs the task: every stack the bench buys stays unsettled while it runs.
for (const server of servers)
  await network.subscribe(server, taskId, { collateral: SUBSCRIPTION_COLLATERAL });
await network.nextEpoch();
const owner = await network.account();
const dataDir = mkdtempSync(join(tmpdir(), "atoma-bench-node-"));

/** A stack `server` serves, once `recorded` says its node has it: the task draws its node, so buy until it is this one. */
async function stackOf(
  server: DevNode,
  recorded: (stackId: bigint) => Promise<void>,
  units = STACK_UNITS,
): Promise<bigint> {
  for (;;) {
    const bought = await buyStack(owner.ctx, {
      taskId,
      units,
      maxPricePerMillion: DEV_PRICE_PER_MILLION,
      duration: 86_400n,
    });
    if (bought.nodeId === server.nodeId) {
      await recorded(bought.stackId);
      return bought.stackId;
    }
  }
}

interface BenchClient {
  client: StackClient;
  stackId: bigint;
  nonce: bigint;
  nodeUrl: string;
  server: DevNode;
}

/** A client with its own stack: a stack takes one request at a time, its k-th with nonce k. */
function clientOf(server: DevNode, nodeUrl: string, stackId: bigint): BenchClient {
  const client = new StackClient({
    nodeUrl,
    account: owner.account,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.deployment.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
  });
  return { client, stackId, nonce: 0n, nodeUrl, server };
}

/**
 * One request through the node, timed from sending to the parsed answer: the client signs before and verifies
 * after (client and node may share this process, and the figures are about the node).
 */
async function throughNode(each: BenchClient, request: Record<string, unknown>): Promise<number> {
  const { client, stackId } = each;
  const signed = await signStackRequest(owner.account, client.domain, {
    stackId,
    body: request,
    nonce: each.nonce++,
    deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
    maxUnits: 1_000_000n,
  });
  let answer: Record<string, unknown> = {};
  const ms = await timeMs(async () => {
    const response = await fetch(new URL("/v1/completions", each.nodeUrl), {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
    });
    answer = (await response.json()) as Record<string, unknown>;
  });
  const { atoma, ...rest } = answer;
  await verifyReceipt(rest, atoma, {
    domain: client.domain,
    nodeSigner: each.server.signerAccount.address,
    stackId,
    reqHash: signed.reqHash,
  });
  return ms;
}

const body = (seed: number, maxTokens = TOKENS) => ({
  model: model.id,
  prompt: "Once upon a time, in a land far away,",
  max_tokens: maxTokens,
  temperature: 0.8,
  seed,
  ignore_eos: true,
});

/** Eight clients, each on its own stack, waiting for its (verified) answer before sending the next (8 tokens each). */
async function loadFor(clients: BenchClient[], seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (each, i) => {
      for (let k = 0; performance.now() < until; k++) {
        await throughNode(each, body(10_000 * (i + 1) + k, 8));
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** Every figure for one node over one kind of database; `suffix` tells them apart. */
async function benchNode(
  suffix: string,
  serverIndex: number,
  postgresUrl: string | undefined,
): Promise<void> {
  const server = servers[serverIndex]!;
  const { node, schema } = apiNode({
    network,
    node: server,
    engine,
    model,
    dataDir: join(dataDir, String(serverIndex)),
    postgresUrl,
    // A production-like poll (the tests' 20 ms one takes CPU from the requests measured here).
    pollingIntervalMs: 250,
    limits: { maxConcurrentStreams: RPS_CLIENTS, maxQueueLength: 256, maxPromptTokens: 400 },
  });
  await node.start();
  try {
    const recorded = (stackId: bigint) => waitForStack(node, stackId);
    const client = clientOf(server, node.url, await stackOf(server, recorded));

    await engine.complete(body(0));
    await throughNode(client, body(0));
    const engineMs: number[] = [];
    const nodeMs: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      engineMs.push(await timeMs(() => engine.complete(body(round))));
      nodeMs.push(await throughNode(client, body(round)));
    }
    const engineRate = TOKENS / (best(engineMs) / 1000);
    const nodeRate = TOKENS / (best(nodeMs) / 1000);
    report(`engine_tokens_per_s${suffix}`, engineRate, "tok/s");
    report(`node_tokens_per_s${suffix}`, nodeRate, "tok/s");
    report(`node_vs_engine_ratio${suffix}`, nodeRate / engineRate, "x");

    // What the node adds to a one-token request: HTTP and JSON, the owner's signature, the unit bound,
    // reserve, commit and the node's signature.
    const added: number[] = [];
    for (let pair = 0; pair < LATENCY_PAIRS; pair++) {
      const direct = await timeMs(() => engine.complete(body(1_000 + pair, 1)));
      added.push((await throughNode(client, body(1_000 + pair, 1))) - direct);
    }
    report(`node_added_latency_p50_ms${suffix}`, percentile(added, 50), "ms");
    report(`node_added_latency_p99_ms${suffix}`, percentile(added, 99), "ms");

    const clients = [];
    for (let i = 0; i < RPS_CLIENTS; i++)
      clients.push(clientOf(server, node.url, await stackOf(server, recorded)));
    const rps = await loadFor(clients, RPS_SECONDS);
    report(`node_rps_8_clients${suffix}`, rps, "req/s");
  } finally {
    await node.stop();
    if (postgresUrl && schema) await dropSchema(postgresUrl, schema);
  }
}

/** Resident memory of a process, in MB (Linux). */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/**
 * One node in a process of its own (`lib/nodeChild.mjs`: the stack API, its own engine over the tiny model, the
 * embedded database): its resident memory idle, and the most it reaches under the eight clients' load.
 */
async function benchNodeMemory(): Promise<void> {
  const server = servers[0]!;
  const stacks: bigint[] = [];
  for (let i = 0; i < RPS_CLIENTS; i++)
    stacks.push(await stackOf(server, async () => {}, MEMORY_STACK_UNITS));
  const { StackManager, NodeRegistry } = network.nodeContracts;
  const child = spawn(process.execPath, [fileURLToPath(new URL("./lib/nodeChild.mjs", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      ATOMA_BENCH_NODE: JSON.stringify({
        rpc: { rpcUrl: network.rpc.rpcUrl, chainId: network.rpc.chainId },
        nodeContracts: { StackManager, NodeRegistry },
        privateKey: server.signerKey,
        dataDir: join(dataDir, "process"),
        modelPath: model.path,
        modelId: model.id,
        limits: { maxConcurrentStreams: RPS_CLIENTS, maxQueueLength: 256, maxPromptTokens: 400 },
        stacks: stacks.map(String),
      }),
    },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const ready = /ready (\S+)/.exec(out);
        if (ready) resolve(ready[1]!);
      });
      child.once("exit", (code) => reject(new Error(`the node process exited with ${code}`)));
    });
    const pid = child.pid!;
    const clients = stacks.map((stackId) => clientOf(server, url, stackId));
    await throughNode(clients[0]!, body(0, 8));
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    report("node_rss_mb_idle", rssMb(pid), "MB");
    let peak = rssMb(pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
    }, 100);
    try {
      report("node_rps_8_clients_process", await loadFor(clients, RPS_SECONDS), "req/s");
    } finally {
      clearInterval(sampler);
    }
    report("node_rss_mb", Math.max(peak, rssMb(pid)), "MB");
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

try {
  await benchNode("", 0, undefined);
  if (process.env.DATABASE_URL) await benchNode("_postgres", 1, process.env.DATABASE_URL);
  await benchNodeMemory();
} finally {
  await engine.stop();
  await network.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
