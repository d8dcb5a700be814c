import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  atomaContracts,
  createAtomaPublicClient,
  createAtomaWalletClient,
  getNode,
  getSubscription,
  getTask,
  modelIdOf,
  requestStack,
} from "@atoma/chain";
import { type Address, type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it, vi } from "vitest";
import { runCli, waitForReady } from "./cliProcess.js";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  model: string;
  tasks: { chat: string; chatUnverified: string };
  nodes: { id: string; url: string; address: Address; price: string }[];
  user: { address: Address; privateKey: string };
}

/** Every process below `pid` (children, grandchildren, ...). */
function descendants(pid: number): number[] {
  const table = execFileSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const [child, ppid] of table)
      if (ppid === parent) {
        found.push(child);
        visit(child);
      }
  };
  visit(pid);
  return found;
}

/** Running, or stopped but not yet reaped (a zombie has exited: it counts as gone). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = runCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** `atoma stack buy|status` against the dev network, as its demo user: only node 1 asks at most 1.5 TOMA. */
async function buysAStackFromTheCheapestNode(ready: Ready): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-stack-"));
  try {
    const network = join(dir, "network.json");
    writeFileSync(network, JSON.stringify(ready));
    const keyFile = join(dir, "user.key");
    writeFileSync(keyFile, `${ready.user.privateKey}\n`, { mode: 0o600 });
    const buy = ["stack", "buy", "--network", network, "--task", ready.tasks.chat, "--units", "10000"];
    const bought = await cli([...buy, "--key-file", keyFile, "--max-price", "1.5"]);
    expect(bought.code, bought.stderr).toBe(0);
    const stack = JSON.parse(bought.stdout) as {
      stackId: string;
      nodeId: string;
      nodeUrl: string;
      price: string;
    };
    expect(stack).toMatchObject({ nodeId: ready.nodes[0]!.id, nodeUrl: ready.nodes[0]!.url, price: "1" });

    const status = await cli(["stack", "status", stack.stackId, "--network", network]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      stackId: stack.stackId,
      status: "active",
      owner: ready.user.address,
      nodeUrl: ready.nodes[0]!.url,
      units: "10000",
    });

    const viaEnv = await cli([...buy, "--max-price", "5"], { ATOMA_PRIVATE_KEY: ready.user.privateKey });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);

    for (const [args, message] of [
      [[...buy, "--key-file", keyFile, "--max-price", "0.5"], /buyStack reverted with NoEligibleNode\(1\)/],
      [["stack", "status", "999", "--network", network], /there is no stack 999/],
      [["stack", "status", "1", "--network", join(dir, "absent.json")], /cannot be read/],
      [[...buy, "--key-file", keyFile, "--max-price", "x"], /--max-price must be an amount of TOMA/],
    ] as const) {
      const refused = await cli([...args]);
      expect(refused.code, args.join(" ")).not.toBe(0);
      expect(refused.stderr, args.join(" ")).toMatch(message);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `atoma stack draw`: the demo user only requests a stack (the purchase's first step, which arms the draw); the
 * CLI draws its node in the next block. Node 1 is the only candidate at 1.5 TOMA, so it is the one drawn. A stack
 * that is not waiting for its draw is refused with one line and a non-zero exit.
 */
async function drawsARequestedStack(ready: Ready): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-draw-"));
  try {
    const network = join(dir, "network.json");
    writeFileSync(network, JSON.stringify(ready));
    const keyFile = join(dir, "user.key");
    writeFileSync(keyFile, `${ready.user.privateKey}\n`, { mode: 0o600 });
    const options = { rpcUrl: ready.rpcUrl, chainId: ready.chainId };
    const ctx = {
      publicClient: createAtomaPublicClient(options),
      walletClient: createAtomaWalletClient(options, privateKeyToAccount(ready.user.privateKey as Hex)),
      addresses: ready.contracts as never,
    };
    const requested = await requestStack(ctx, {
      taskId: BigInt(ready.tasks.chat),
      units: 10_000n,
      maxPricePerMillion: parseEther("1.5"),
      duration: 3_600n,
    });
    const pending = await cli(["stack", "status", String(requested.stackId), "--network", network]);
    expect(pending.code, pending.stderr).toBe(0);
    expect(JSON.parse(pending.stdout)).toMatchObject({ status: "pending", nodeId: "0" });

    const draw = ["stack", "draw", String(requested.stackId), "--network", network, "--key-file", keyFile];
    const drawn = await cli(draw);
    expect(drawn.code, drawn.stderr).toBe(0);
    const outcome = JSON.parse(drawn.stdout) as Record<string, string>;
    expect(outcome).toMatchObject({
      stackId: String(requested.stackId),
      outcome: "drawn",
      nodeId: ready.nodes[0]!.id,
      pricePerMillion: parseEther("1").toString(),
    });
    expect(outcome.tx).toMatch(/^0x[0-9a-f]{64}$/);
    const status = await cli(["stack", "status", String(requested.stackId), "--network", network]);
    expect(JSON.parse(status.stdout)).toMatchObject({
      status: "active",
      nodeId: ready.nodes[0]!.id,
      nodeUrl: ready.nodes[0]!.url,
    });

    for (const [args, message] of [
      [draw, new RegExp(`stack ${requested.stackId} is not waiting for its draw \\(status active\\)`)],
      [
        ["stack", "draw", "999", "--network", network, "--key-file", keyFile],
        /stack 999 is not waiting for its draw \(status none\)/,
      ],
      [["stack", "draw", "x", "--network", network, "--key-file", keyFile], /stack id/],
    ] as const) {
      const refused = await cli([...args]);
      expect(refused.code, args.join(" ")).not.toBe(0);
      expect(refused.stderr, args.join(" ")).toMatch(message);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("atoma dev --nodes", () => {
  it("starts registered, staked nodes subscribed at distinct prices, and SIGINT leaves no process behind", async () => {
    // Three: a verified stack needs its attester and a committee member among the server's peers (item 4).
    const run = runCli(["dev", "--nodes", "3", "--log-level", "warn"]);
    const ready = await waitForReady<Ready>(run, 240_000);
    expect(ready.model).toBe("atoma-tiny");
    expect(ready.nodes).toHaveLength(3);
    expect(ready.user.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    await vi.waitFor(
      () => expect(run.stderr()).toMatch(/chat --network \S+network\.json --save answer\.json "Hello"/),
      10_000,
    );
    const networkFile = /chat --network (\S+network\.json)/.exec(run.stderr())?.[1] ?? "";
    expect(JSON.parse(readFileSync(networkFile, "utf8"))).toEqual(ready);
    // Then how to check the saved answer, against the same file.
    expect(run.stderr()).toContain(`npx atoma verify answer.json --network ${networkFile}\n`);

    const ctx = {
      publicClient: createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
      addresses: ready.contracts as never,
    };
    const chatTask = BigInt(ready.tasks.chat);
    const task = await getTask(ctx, chatTask);
    expect(task).toMatchObject({ modelId: modelIdOf("atoma-tiny"), securityLevel: 1, active: true });
    const prices = new Set<bigint>();
    for (const node of ready.nodes) {
      const health = await fetch(`${node.url}/health`);
      expect(health.status, node.url).toBe(200);
      const onChain = await getNode(ctx, BigInt(node.id));
      expect(onChain).toMatchObject({ signer: node.address, url: node.url, status: 1 });
      expect(onChain.collateral).toBeGreaterThanOrEqual(parseEther("1000"));
      const subscription = await getSubscription(ctx, { taskId: chatTask, nodeId: BigInt(node.id) });
      expect(subscription.active).toBe(true);
      expect(subscription.pricePerMillion).toBe(parseEther(node.price));
      prices.add(subscription.pricePerMillion);
    }
    expect(prices.size).toBe(3);
    const { nodeRegistry, token } = atomaContracts(
      ready.contracts as never,
      ctx.publicClient,
      undefined as never,
    );
    for (const node of ready.nodes) expect(await nodeRegistry.read.isEligible([BigInt(node.id)])).toBe(true);
    // The dev echelon is approved for the fingerprint the dev engine measured, which each node checked.
    const approved = await nodeRegistry.read.echelonFingerprint([1]);
    for (const node of ready.nodes) {
      const served = (await (await fetch(`${node.url}/v1/node/fingerprint`)).json()) as Record<
        string,
        unknown
      >;
      expect(served).toMatchObject({ fingerprint: approved, echelon_fingerprint: approved });
    }
    expect(await token.read.balanceOf([ready.user.address])).toBeGreaterThan(0n);

    await buysAStackFromTheCheapestNode(ready);
    await drawsARequestedStack(ready);

    const children = descendants(run.child.pid!);
    expect(children.length).toBeGreaterThan(0);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    for (const node of ready.nodes) await expect(fetch(`${node.url}/health`)).rejects.toThrow();
    // anvil's guard shell notices our exit through its pipe, so it may outlive us by a moment.
    await expect.poll(() => children.filter(alive), { timeout: 15_000, interval: 100 }).toEqual([]);
  }, 300_000);

  it("with --state-dir, a second run reuses the deployment, the tasks and the nodes' keys and registrations", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "atoma-cli-dev-state-"));
    try {
      const runOnce = async () => {
        const run = runCli(["dev", "--nodes", "1", "--state-dir", stateDir, "--log-level", "warn"]);
        const ready = await waitForReady<Ready>(run, 240_000);
        const ctx = {
          publicClient: createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
          addresses: ready.contracts as never,
        };
        const node = ready.nodes[0]!;
        expect((await getNode(ctx, BigInt(node.id))).url).toBe(node.url);
        expect((await fetch(`${node.url}/health`)).status).toBe(200);
        run.child.kill("SIGINT");
        expect(await run.exited).toBe(0);
        return ready;
      };
      const first = await runOnce();
      const second = await runOnce();
      expect(second.contracts).toEqual(first.contracts);
      expect(second.tasks).toEqual(first.tasks);
      expect(second.nodes.map(({ id, address, price }) => ({ id, address, price }))).toEqual(
        first.nodes.map(({ id, address, price }) => ({ id, address, price })),
      );
      const key = statSync(join(stateDir, "nodes", "node-1", "node.key"));
      expect(key.mode & 0o777).toBe(0o600);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 600_000);

  it("refuses a bad --nodes with one line and a non-zero exit", async () => {
    for (const value of ["-1", "abc", "33"]) {
      const run = runCli(["dev", "--nodes", value]);
      expect(await run.exited).not.toBe(0);
      expect(run.stderr().trim().split("\n")).toHaveLength(1);
      expect(run.stderr()).toMatch(/--nodes must be a whole number from 0 to 32/);
    }
  });
});
