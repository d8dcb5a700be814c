import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecurityLevel } from "@atoma/chain";
import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { costOfUnits } from "@atoma/core";
import { apiNode, startTinyEngine } from "@atoma/node/devnet";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { type Gateway, startGateway } from "../src/service/startGateway.js";

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

// Review M3, with the real node and engine: a stream its client stops is followed up, before the stack's next
// request, by a read of its leaf, never by resending it (the node stopped generating and recorded nothing, so a resend
// had it generate the whole answer again for nobody). Generations are counted at the node's engine.
describe("a stream its client stops, on a real node", () => {
  let network: Devnet;
  let gateway: Gateway;
  let stopAll: () => Promise<void> = async () => {};
  const dir = mkdtempSync(join(tmpdir(), "atoma-stopped-"));
  /** Answers the node's engine began to generate. */
  let generations = 0;

  beforeAll(async () => {
    network = await startDevnet();
    const { engine, model } = await startTinyEngine({ id: "atoma-tiny" });
    for (const name of ["complete", "streamComplete"] as const) {
      const run = engine[name].bind(engine) as (...args: unknown[]) => unknown;
      (engine as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        generations++;
        return run(...args);
      };
    }
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
    const config = parseProxyConfig(
      {
        server: { port: 0 },
        database: { dataDir: join(dir, "proxy") },
        stacks: { units: "10000000", maxPerModel: 1, securityLevel: 0 },
      },
      {
        rpcUrl: network.anvil.rpcUrl,
        chainId: network.anvil.chainId,
        contracts: network.deployment.addresses,
      },
    );
    gateway = await startGateway(config, { account: privateKeyToAccount(wallet.privateKey) });
    stopAll = async () => {
      await gateway.stop();
      await node.stop();
      await engine.stop();
      await network.stop();
    };
  }, 180_000);
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const complete = (key: string, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "atoma-tiny", prompt: "Once upon a time", ...body }),
      signal: signal ?? AbortSignal.timeout(60_000),
    });

  it("reads the stopped stream's leaf instead of generating its answer again", async () => {
    const { key, view } = await gateway.keys.create({ name: "stopper", budget: "1000" });
    // The stack is bought and used once.
    const warm = await complete(key, { max_tokens: 3, seed: 1 });
    expect(warm.status).toBe(200);
    await warm.json();
    expect(generations).toBe(1);

    const stop = new AbortController();
    const stream = await complete(
      key,
      { max_tokens: 300, ignore_eos: true, seed: 2, stream: true },
      stop.signal,
    );
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    await reader.read();
    stop.abort();
    await reader.cancel().catch(() => undefined);
    await expect.poll(async () => (await gateway.keys.get(view.id)).reserved, { timeout: 10_000 }).toBe("0");
    expect(generations).toBe(2);

    // The stack's next request: the stopped one's leaf is read (committed or not), never its answer asked for again.
    const next = await complete(key, { max_tokens: 3, seed: 3 });
    expect(next.status).toBe(200);
    await next.json();
    expect(generations).toBe(3);
    await expect.poll(async () => (await gateway.keys.get(view.id)).reserved, { timeout: 10_000 }).toBe("0");
    // Every charge settled: none left held for the stopped stream's leaf, no stack retired on the way.
    expect(await new SealedCharges(gateway.db).held()).toEqual([]);
    const stacks = await gateway.db.selectFrom("stacks").selectAll().execute();
    expect(stacks.map((stack) => stack.state)).not.toContain("retired");
    const receipts = await gateway.db.selectFrom("receipts").selectAll().execute();
    // The key paid what the receipts kept bill (the stopped stream's at most what it was sent), nothing more.
    const billed = receipts.reduce(
      (sum, row) => sum + costOfUnits(BigInt(row.receipt.units ?? "0"), stacks[0]!.price_per_million),
      0n,
    );
    const spent = parseEther((await gateway.keys.get(view.id)).spent);
    expect(spent).toBeGreaterThan(0n);
    expect(spent).toBeLessThanOrEqual(billed);
  }, 120_000);

  // Review 2 of h-gw, HIGH-A: a stopped stream, then the same body again (here by another key). The stopped one's leaf
  // read frees its nonce, and the same body signed there afresh has the same request hash: its receipt settled the
  // stopped one's hold as if it were its leaf. Both keys paid for the one answer.
  it("charges a regenerated answer once: the keys pay no more than the node's receipts bill", async () => {
    const stopper = await gateway.keys.create({ name: "stop-then", budget: "1000" });
    const regenerator = await gateway.keys.create({ name: "regenerate", budget: "1000" });
    const body = { max_tokens: 300, ignore_eos: true, seed: 4, stream: true };
    const receiptsBefore = await gateway.db.selectFrom("receipts").select("leaf_index").execute();
    const stop = new AbortController();
    const stream = await complete(stopper.key, body, stop.signal);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    await reader.read();
    stop.abort();
    await reader.cancel().catch(() => undefined);
    await expect
      .poll(async () => (await gateway.keys.get(stopper.view.id)).reserved, { timeout: 10_000 })
      .toBe("0");

    const again = await complete(regenerator.key, body);
    expect(again.status).toBe(200);
    await again.text();
    await expect
      .poll(async () => (await gateway.keys.get(regenerator.view.id)).reserved, { timeout: 10_000 })
      .toBe("0");
    expect(await new SealedCharges(gateway.db).held()).toEqual([]);
    const stacks = await gateway.db.selectFrom("stacks").selectAll().execute();
    const seen = new Set(receiptsBefore.map((row) => String(row.leaf_index)));
    const receipts = (await gateway.db.selectFrom("receipts").selectAll().execute()).filter(
      (row) => !seen.has(String(row.leaf_index)),
    );
    expect(receipts.length).toBeGreaterThan(0);
    const billed = receipts.reduce(
      (sum, row) => sum + costOfUnits(BigInt(row.receipt.units ?? "0"), stacks[0]!.price_per_million),
      0n,
    );
    const spent =
      parseEther((await gateway.keys.get(stopper.view.id)).spent) +
      parseEther((await gateway.keys.get(regenerator.view.id)).spent);
    expect(parseEther((await gateway.keys.get(regenerator.view.id)).spent)).toBeGreaterThan(0n);
    expect(spent).toBeLessThanOrEqual(billed);
  }, 120_000);
});
