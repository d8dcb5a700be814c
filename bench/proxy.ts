// Gateway: latency it adds over calling the node with the SDK (signing counted), its max rps and memory; Portkey's added latency.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buyStack, SecurityLevel } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, startDevnet } from "@atoma/chain/devnet";
import { apiNode, startTinyEngine, waitForStack } from "@atoma/node/devnet";
import { StackClient, signStackRequest, verifyReceipt } from "@atoma/sdk";
import { parseEther } from "viem";
import { startPlainOpenAiServer } from "./lib/plainOpenAiServer.js";
import { percentile, report, timeMs } from "./lib/report.js";

/** Sequential pairs timed (more for a profile: BENCH_PROXY_PAIRS=400 with BENCH_GATEWAY_NODE_ARGS=--cpu-prof). */
const LATENCY_PAIRS = Number(process.env.BENCH_PROXY_PAIRS ?? 60);
const RPS_CLIENTS = 16;
const RPS_SECONDS = 5;
const STACKS_PER_MODEL = 8;

/** A child process's `ready {json}` line. */
function readyOf<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n").find((l) => l.startsWith("ready "));
      if (line) resolve(JSON.parse(line.slice(6)) as T);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}: ${err.slice(-2000)}`)));
  });
}

/** Resident memory of a process, from /proc (Linux). */
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN) / 1024;

/** CPU time (user and system) a process has used so far, from /proc (Linux; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Waits for an HTTP server to answer at all (Portkey prints nothing machine-readable when it is up). */
async function reachable(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A port free now (the node registers its URL before it listens). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const network = await startDevnet();
const { engine, model } = await startTinyEngine();
const { modelId } = await network.registerModel({ name: model.id });
const nodePort = await freePort();
// The gateway reaches the node at the URL it registered.
const server = await network.addNode({ url: `http://127.0.0.1:${nodePort}` });
const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.None });
await network.subscribe(server, taskId, { collateral: parseEther("900") });
await network.nextEpoch();
const owner = await network.account();
const gatewayWallet = await network.account();
const dataDir = mkdtempSync(join(tmpdir(), "atoma-bench-proxy-"));
const { node } = apiNode({
  network,
  node: server,
  engine,
  model,
  dataDir: join(dataDir, "node"),
  port: nodePort,
  pollingIntervalMs: 250,
  limits: { maxConcurrentStreams: RPS_CLIENTS, maxQueueLength: 256, maxPromptTokens: 400 },
});
const children: ChildProcess[] = [];
const plain = await startPlainOpenAiServer(engine);
try {
  await node.start();
  const bought = await buyStack(owner.ctx, {
    taskId,
    units: 10_000_000n,
    maxPricePerMillion: DEV_PRICE_PER_MILLION,
    duration: 86_400n,
  });
  await waitForStack(node, bought.stackId);
  const direct = new StackClient({
    nodeUrl: node.url,
    account: owner.account,
    stackId: bought.stackId,
    chainId: network.anvil.chainId,
    stackManager: network.deployment.addresses.StackManager,
    nodeSigner: server.signerAccount.address,
  });
  let nonce = 0n;
  const body = (seed: number) => ({
    model: model.id,
    prompt: "Once upon a time",
    max_tokens: 1,
    temperature: 0.8,
    seed,
    ignore_eos: true,
  });
  /** The node called directly as the SDK does: sign, send, verify the receipt. */
  const throughNode = (seed: number) =>
    timeMs(async () => {
      const request = body(seed);
      const signed = await signStackRequest(owner.account, direct.domain, {
        stackId: bought.stackId,
        body: request,
        nonce: nonce++,
        deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
        maxUnits: 1_000_000n,
      });
      const response = await fetch(new URL("/v1/completions", node.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
      });
      const { atoma, ...rest } = (await response.json()) as Record<string, unknown>;
      await verifyReceipt(rest, atoma, {
        domain: direct.domain,
        nodeSigner: server.signerAccount.address,
        stackId: bought.stackId,
        reqHash: signed.reqHash,
      });
    });

  const gatewayChild = spawn(
    process.execPath,
    [
      // Node flags for the gateway alone, e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
      ...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      fileURLToPath(new URL("./lib/gatewayProcess.ts", import.meta.url)),
      JSON.stringify({
        network: {
          rpcUrl: network.anvil.rpcUrl,
          chainId: network.anvil.chainId,
          contracts: network.deployment.addresses,
        },
        privateKey: gatewayWallet.privateKey,
        dataDir: join(dataDir, "proxy"),
        stacksPerModel: STACKS_PER_MODEL,
      }),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(gatewayChild);
  const gateway = await readyOf<{ url: string; apiKey: string }>(gatewayChild, "the gateway");
  const post = (url: string, headers: Record<string, string>, request: unknown) =>
    timeMs(async () => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(request),
      });
      const answer = await response.text();
      if (!response.ok) throw new Error(`${response.status} ${answer.slice(0, 300)}`);
    });
  const throughGateway = (seed: number) =>
    post(`${gateway.url}/v1/completions`, { authorization: `Bearer ${gateway.apiKey}` }, body(seed));

  // Warm both paths (the gateway buys its first stack here).
  for (let i = 0; i < 3; i++) {
    await throughNode(i);
    await throughGateway(i);
  }
  const added: number[] = [];
  const cpuBefore = cpuMs(gatewayChild.pid!);
  for (let pair = 0; pair < LATENCY_PAIRS; pair++) {
    const viaNode = await throughNode(1_000 + pair);
    added.push((await throughGateway(1_000 + pair)) - viaNode);
  }
  const proxyP50 = percentile(added, 50);
  report("proxy_added_latency_p50_ms", proxyP50, "ms");
  report("proxy_added_latency_p99_ms", percentile(added, 99), "ms");
  // The gateway's own CPU per request, steadier than latency on a shared machine (background work included).
  report("proxy_cpu_ms_per_request", (cpuMs(gatewayChild.pid!) - cpuBefore) / LATENCY_PAIRS, "ms");

  const until = performance.now() + RPS_SECONDS * 1000;
  let done = 0;
  const cpuAtRps = cpuMs(gatewayChild.pid!);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: RPS_CLIENTS }, async (_, i) => {
      for (let k = 0; performance.now() < until; k++) {
        await throughGateway(10_000 * (i + 1) + k);
        done++;
      }
    }),
  );
  report("proxy_max_rps", done / ((performance.now() - started) / 1000), "req/s");
  report("proxy_cpu_ms_per_request_at_max_rps", (cpuMs(gatewayChild.pid!) - cpuAtRps) / done, "ms");
  report("proxy_rss_mb", rssMb(gatewayChild.pid!), "MB");

  // Portkey in front of a plain OpenAI-compatible server over the same engine, against calling that server.
  const portkeyStart = createRequire(import.meta.url).resolve("@portkey-ai/gateway/build/start-server.js");
  const portkeyPort = 20_000 + Math.floor(Math.random() * 20_000);
  const portkey = spawn(process.execPath, [portkeyStart, `--port=${portkeyPort}`, "--headless"], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  children.push(portkey);
  const portkeyUrl = `http://127.0.0.1:${portkeyPort}`;
  await reachable(portkeyUrl);
  const viaPortkey = (seed: number) =>
    post(
      `${portkeyUrl}/v1/completions`,
      {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `${plain.url}/v1`,
        authorization: "Bearer none",
      },
      body(seed),
    );
  const viaPlain = (seed: number) => post(`${plain.url}/v1/completions`, {}, body(seed));
  for (let i = 0; i < 3; i++) {
    await viaPlain(i);
    await viaPortkey(i);
  }
  const portkeyAdded: number[] = [];
  for (let pair = 0; pair < LATENCY_PAIRS; pair++) {
    const plainMs = await viaPlain(2_000 + pair);
    portkeyAdded.push((await viaPortkey(2_000 + pair)) - plainMs);
  }
  const portkeyP50 = percentile(portkeyAdded, 50);
  report("portkey_added_latency_p50_ms", portkeyP50, "ms");
  report("portkey_added_latency_p99_ms", percentile(portkeyAdded, 99), "ms");
  report("proxy_vs_portkey_added_latency_ratio", proxyP50 / portkeyP50, "x");
} finally {
  for (const child of children) child.kill("SIGTERM");
  await plain.close();
  await node.stop();
  await engine.stop();
  await network.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
