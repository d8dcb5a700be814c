// Stack API: tokens/s through the node (signed, accounted, receipts verified) vs the engine directly, added latency, rps.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buyStack, SecurityLevel } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, startDevnet } from "@atoma/chain/devnet";
import { apiNode, dropSchema, startTinyEngine, waitForStack } from "@atoma/node/devnet";
import { StackClient, signStackRequest, verifyReceipt } from "@atoma/sdk";
import { parseEther } from "viem";
import { percentile, report, timeMs } from "./lib/report.js";

const TOKENS = 128;
const ROUNDS = 11;
const LATENCY_PAIRS = 60;
const RPS_CLIENTS = 8;
const RPS_SECONDS = 5;
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
    /** A stack this node serves: the task draws its node among those subscribed, so buy until it is this one. */
    const stackOfThisNode = async () => {
      for (;;) {
        const bought = await buyStack(owner.ctx, {
          taskId,
          units: STACK_UNITS,
          maxPricePerMillion: DEV_PRICE_PER_MILLION,
          duration: 86_400n,
        });
        if (bought.nodeId === server.nodeId) {
          await waitForStack(node, bought.stackId);
          return bought.stackId;
        }
      }
    };
    /** A client with its own stack: a stack takes one request at a time, its k-th with nonce k. */
    const clientFor = async () => {
      const stackId = await stackOfThisNode();
      const client = new StackClient({
        nodeUrl: node.url,
        account: owner.account,
        stackId,
        chainId: network.anvil.chainId,
        stackManager: network.deployment.addresses.StackManager,
        nodeSigner: server.signerAccount.address,
      });
      return { client, stackId, nonce: 0n };
    };
    /**
     * One request through the node, timed from sending to the parsed answer: the client signs before and
     * verifies after (client and node share this process, and the figures are about the node).
     */
    const throughNode = async (
      each: Awaited<ReturnType<typeof clientFor>>,
      request: Record<string, unknown>,
    ): Promise<number> => {
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
        const response = await fetch(new URL("/v1/completions", node.url), {
          method: "POST",
          headers: { "content-type": "application/json", ...signed.headers },
          body: signed.json,
        });
        answer = (await response.json()) as Record<string, unknown>;
      });
      const { atoma, ...rest } = answer;
      await verifyReceipt(rest, atoma, {
        domain: client.domain,
        nodeSigner: server.signerAccount.address,
        stackId,
        reqHash: signed.reqHash,
      });
      return ms;
    };
    const client = await clientFor();
    const body = (seed: number, maxTokens = TOKENS) => ({
      model: model.id,
      prompt: "Once upon a time, in a land far away,",
      max_tokens: maxTokens,
      temperature: 0.8,
      seed,
      ignore_eos: true,
    });

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

    // Eight clients, each on its own stack, waiting for its (verified) answer before sending the next (8 tokens each).
    const clients = [];
    for (let i = 0; i < RPS_CLIENTS; i++) clients.push(await clientFor());
    const until = performance.now() + RPS_SECONDS * 1000;
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
    report(`node_rps_8_clients${suffix}`, done / ((performance.now() - started) / 1000), "req/s");
  } finally {
    await node.stop();
    if (postgresUrl && schema) await dropSchema(postgresUrl, schema);
  }
}

try {
  await benchNode("", 0, undefined);
  if (process.env.DATABASE_URL) await benchNode("_postgres", 1, process.env.DATABASE_URL);
} finally {
  await engine.stop();
  await network.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
