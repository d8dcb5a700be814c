import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SecurityLevel } from "@atoma/chain";
import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { costOfUnits } from "@atoma/core";
import { apiNode, startTinyEngine } from "@atoma/node/devnet";
import { readSse } from "@atoma/sdk";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openGatewayDatabase } from "../src/db/openGatewayDatabase.js";

const PROCESS_SCRIPT = fileURLToPath(new URL("./helpers/networkGatewayProcess.ts", import.meta.url));

/** What a client received: the receipt of an answer it read to its end. */
interface Received {
  stackId: bigint;
  leafIndex: bigint;
  units: bigint;
  cumulativeUnits: bigint;
  signature: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function startGatewayProcess(
  args: Record<string, unknown>,
): Promise<{ child: ChildProcess; url: string; apiKey?: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", PROCESS_SCRIPT, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.once("exit", (code, signal) => reject(new Error(`the gateway exited (${code ?? signal})`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n").find((l) => l.startsWith("ready "));
      if (line) resolve({ child, ...(JSON.parse(line.slice(6)) as { url: string; apiKey?: string }) });
    });
  });
}

const receiptOf = (atoma: Record<string, string>): Received => ({
  stackId: BigInt(atoma.stack_id ?? ""),
  leafIndex: BigInt(atoma.leaf_index ?? ""),
  units: BigInt(atoma.units ?? ""),
  cumulativeUnits: BigInt(atoma.cumulative_units ?? ""),
  signature: atoma.signature ?? "",
});

/** One completion through the gateway; the receipt when the whole answer arrived, undefined otherwise. */
async function complete(
  url: string,
  key: string,
  stream: boolean,
  seed: number,
): Promise<Received | undefined> {
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "atoma-tiny", prompt: "Once upon a time", max_tokens: 3, seed, stream }),
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  if (!stream) return receiptOf(((await response.json()) as { atoma: Record<string, string> }).atoma);
  let atoma: Record<string, string> | undefined;
  for await (const event of readSse(response.body!)) {
    const value = event as { atoma?: Record<string, string>; error?: unknown };
    if (value.error) throw new Error("the stream failed");
    if (value.atoma) atoma = value.atoma;
  }
  return atoma && receiptOf(atoma);
}

describe("a gateway killed with SIGKILL under load, restarted on its data directory", () => {
  let network: Devnet;
  let stopAll: () => Promise<void> = async () => {};
  let gatewayArgs: Record<string, unknown>;
  const dir = mkdtempSync(join(tmpdir(), "atoma-crash-"));

  beforeAll(async () => {
    network = await startDevnet();
    const { engine, model } = await startTinyEngine({ id: "atoma-tiny" });
    const { modelId } = await network.registerModel({ name: "atoma-tiny" });
    const port = await freePort();
    const server = await network.addNode({ url: `http://127.0.0.1:${port}` });
    const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.None });
    await network.subscribe(server, taskId, { collateral: parseEther("900") });
    await network.nextEpoch();
    const { node } = apiNode({
      network,
      node: server,
      engine,
      model,
      dataDir: join(dir, "node"),
      port,
      pollingIntervalMs: 250,
    });
    await node.start();
    const wallet = await network.account();
    gatewayArgs = {
      network: {
        rpcUrl: network.anvil.rpcUrl,
        chainId: network.anvil.chainId,
        contracts: network.deployment.addresses,
      },
      privateKey: wallet.privateKey,
      dataDir: join(dir, "proxy"),
    };
    stopAll = async () => {
      await node.stop();
      await engine.stop();
      await network.stop();
    };
  }, 180_000);
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("charges every answer a client got exactly once, keeps its receipt, and goes on on the same stacks", async () => {
    const first = await startGatewayProcess({ ...gatewayArgs, createKey: true });
    const key = first.apiKey!;
    const received: Received[] = [];
    // Warm: the gateway buys its first stacks.
    for (const stream of [false, true]) received.push((await complete(first.url, key, stream, 1))!);

    let seed = 100;
    let killed = false;
    const load = Array.from({ length: 6 }, async (_, worker) => {
      while (!killed) {
        try {
          const receipt = await complete(first.url, key, worker % 2 === 0, seed++);
          if (receipt) received.push(receipt);
        } catch (error) {
          if (!killed) throw error;
        }
      }
    });
    const giveUpAt = Date.now() + 60_000;
    while (received.length < 24) {
      if (Date.now() > giveUpAt) throw new Error(`only ${received.length} answers in a minute`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    killed = true;
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await Promise.all(load);
    await exited;
    const beforeRestart = received.length;

    // The same data directory: the journal is replayed; every stack takes new requests, streams and not.
    const second = await startGatewayProcess(gatewayArgs);
    const after = await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        const got: Received[] = [];
        for (let i = 0; i < 4; i++)
          got.push((await complete(second.url, key, (worker + i) % 2 === 0, seed++))!);
        return got;
      }),
    );
    received.push(...after.flat());
    expect(received.length).toBe(beforeRestart + 16);
    await new Promise((resolve) => second.child.once("exit", resolve).kill("SIGTERM"));

    const { db, close } = await openGatewayDatabase({ kind: "embedded", dir: join(dir, "proxy", "db") });
    try {
      const stacks = await db.selectFrom("stacks").selectAll().execute();
      const priceOf = new Map(stacks.map((stack) => [stack.stack_id, stack.price_per_million]));
      const stored = await db.selectFrom("receipts").selectAll().execute();
      const storedKeys = new Set(stored.map((r) => `${r.stack_id}:${r.leaf_index}:${r.signature}`));
      for (const receipt of received)
        expect(storedKeys.has(`${receipt.stackId}:${receipt.leafIndex}:${receipt.signature}`)).toBe(true);
      const cost = (stackId: bigint, units: bigint) => costOfUnits(units, priceOf.get(stackId)!);
      const receivedCost = received.reduce((sum, r) => sum + cost(r.stackId, r.units), 0n);
      const receivedSignatures = new Set(received.map((r) => r.signature));
      // Receipts journaled an instant before the kill whose answer never reached the client (rarely any).
      const unseen = stored.filter((r) => !receivedSignatures.has(r.signature));
      const unseenCost = unseen.reduce(
        (sum, r) => sum + cost(r.stack_id, BigInt(r.receipt.units ?? "0")),
        0n,
      );
      const apiKey = await db.selectFrom("api_keys").selectAll().executeTakeFirstOrThrow();
      expect(apiKey.spent_wei).toBeGreaterThanOrEqual(receivedCost);
      expect(apiKey.spent_wei).toBeLessThanOrEqual(receivedCost + unseenCost);
      const open = await db.selectFrom("spend_reservations").selectAll().execute();
      expect(apiKey.reserved_wei).toBe(open.reduce((sum, r) => sum + r.max_wei, 0n));
      // Its budget slices were given back: the restart's after the journal's replay, then at the clean stop.
      expect(open).toEqual([]);
      const usage = await db.selectFrom("usage_daily").selectAll().execute();
      const counted = usage.reduce((sum, row) => sum + row.requests, 0n);
      expect(counted).toBeGreaterThanOrEqual(BigInt(received.length));
      expect(counted).toBeLessThanOrEqual(BigInt(received.length + unseen.length));
      expect(usage.reduce((sum, row) => sum + row.spend_wei, 0n)).toBe(apiKey.spent_wei);
      // Each stack stands where its last receipt says, none was retired (no nonce or running-total failure).
      for (const stack of stacks) {
        expect(stack.state).toBe("idle");
        const mine = stored.filter((r) => r.stack_id === stack.stack_id);
        const last = mine.reduce((a, b) => (b.leaf_index > a.leaf_index ? b : a));
        expect(stack.next_nonce).toBe(last.leaf_index + 1n);
        expect(stack.units_used).toBe(BigInt(last.receipt.cumulativeUnits ?? ""));
        // Every request answered was journaled as signed before it left, through the kill.
        expect(stack.signed_below_nonce).toBeGreaterThanOrEqual(stack.next_nonce);
      }
      process.stderr.write(
        `crash test: ${received.length} answers (${beforeRestart} before the kill), ${unseen.length} unseen receipts, ${open.length} open reservations, ${stacks.length} stacks\n`,
      );
    } finally {
      await close();
    }
  }, 240_000);
});
