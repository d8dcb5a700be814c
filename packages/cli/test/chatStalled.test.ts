import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getStack, setNodeUrl } from "@atoma/chain";
import { loadKeyFile } from "@atoma/node";
import { parseNetwork, readContext, userContext } from "@atoma/sdk";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  erc20Abi,
  type Hex,
  http,
  parseEther,
} from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay } from "../../sdk/test/relay.js";
import { asideFile, loadAside } from "../src/chat/asideStore.js";
import { loadPending, pendingFile } from "../src/chat/pendingStore.js";
import { receiptsFile, stackHome } from "../src/chat/receiptStore.js";
import { type CliRun, runCli, waitForReady } from "./cliProcess.js";

/** anvil's public dev mnemonic: `atoma dev` funds its accounts 1 to 9 with TOMA. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  nodes: { id: string; url: string }[];
}

async function cli(args: string[]) {
  const run = runCli(args);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

function receiptOf(stderr: string): { nodeId: string; stackId: string; leafIndex: string; bought: boolean } {
  const line = stderr.split("\n").find((l) => l.startsWith("receipt "));
  if (!line) throw new Error(`no receipt line in:\n${stderr}`);
  return JSON.parse(line.slice("receipt ".length));
}

/**
 * Issue 13's fifth review: a node that committed a leaf and then refused the resend of its signed request jammed the
 * stack for `atoma chat` until it expired (every run resent it first, and failed). On a real dev network whose node URL
 * leads through a real HTTP server that misbehaves as scripted.
 */
describe("atoma chat on a stack whose node withholds a receipt (atoma dev --nodes 3)", () => {
  let dev: CliRun;
  let ready: Ready;
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-stalled-"));
  const network = join(dir, "network.json");
  const receipts = join(dir, "receipts");
  const stateDir = join(dir, "state");
  const nodeKey = (k: number) => loadKeyFile(join(stateDir, "nodes", `node-${k + 1}`, "node.key"));

  beforeAll(async () => {
    process.env.ATOMA_RECEIPTS = receipts;
    dev = runCli(["dev", "--nodes", "3", "--state-dir", stateDir, "--log-level", "warn"]);
    ready = await waitForReady<Ready>(dev, 240_000);
    writeFileSync(network, JSON.stringify(ready));
  }, 300_000);
  afterAll(async () => {
    delete process.env.ATOMA_RECEIPTS;
    if (dev) {
      dev.child.kill("SIGINT");
      await dev.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function freshOwner(name: string): Promise<string> {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    const funder = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 8 });
    const wallet = createWalletClient({ account: funder, transport: http(ready.rpcUrl) });
    const reader = createPublicClient({ transport: http(ready.rpcUrl) });
    await reader.waitForTransactionReceipt({
      hash: await wallet.sendTransaction({ to: account.address, value: parseEther("1"), chain: null }),
    });
    await reader.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: ready.contracts.AtomaToken as Hex,
        abi: erc20Abi,
        functionName: "transfer",
        args: [account.address, parseEther("20")],
        chain: null,
      }),
    });
    const file = join(dir, `${name}.key`);
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return file;
  }

  // Review CLI3-1: a node whose clock runs ahead refuses a resend as expired (401) though the client's clock says it
  // is not: that proves no withholding, so the node is not put aside and its stack not closed.
  it("neither puts aside nor closes on a resend refused 401 (the node's clock ahead)", async () => {
    const keyFile = await freshOwner("skewed");
    const first = await cli(["chat", "--network", network, "--key-file", keyFile, "Hello"]);
    expect(first.code, first.stderr).toBe(0);
    const { nodeId, stackId } = receiptOf(first.stderr);
    const k = ready.nodes.findIndex((n) => n.id === nodeId);
    const relay = await startRelay(ready.nodes[k]!.url);
    const operator = userContext(parseNetwork(JSON.stringify(ready)), nodeKey(k));
    await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: relay.url });
    try {
      let cut = false;
      let skewed = true;
      const ours = (path: string, headers: Record<string, string>) =>
        skewed && path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The node commits leaf 1, the answer is cut; the resend is refused as expired by a clock running ahead.
      relay.rewrite = (body, path, headers) => {
        if (!ours(path, headers)) return body;
        const code = cut ? "invalid_signature" : "relay";
        const message = cut ? "the request's deadline has passed" : "relay";
        return JSON.stringify({ error: { message, type: "authentication_error", code } });
      };
      relay.statusOf = (status, path, headers) => {
        if (!ours(path, headers)) return status;
        if (cut) return 401;
        cut = true;
        return 502;
      };
      const broken = await cli(["chat", "--network", network, "--key-file", keyFile, "Second"]);
      expect(broken.code).not.toBe(0);
      const refused = await cli(["chat", "--network", network, "--key-file", keyFile, "Third"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/refused the resend of the request at nonce 1/);
      const ctx = readContext(parseNetwork(JSON.stringify(ready)));
      const home = await stackHome(ctx.publicClient, ready.contracts.StackManager!);
      expect(loadAside(asideFile(receipts, home)).map((n) => n.nodeId)).not.toContain(nodeId);
      expect((await getStack(ctx, BigInt(stackId))).closedAt).toBe(0n);
      // Its clock right again, the node gives the receipt of the leaf it committed and serves on the same stack.
      skewed = false;
      const later = await cli(["chat", "--network", network, "--key-file", keyFile, "Fourth"]);
      expect(later.code, later.stderr).toBe(0);
      expect(receiptOf(later.stderr)).toMatchObject({ nodeId, stackId, bought: false });
    } finally {
      await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: ready.nodes[k]!.url });
      await relay.close();
    }
  }, 300_000);

  it("puts the node aside, closes the stalled stack, keeps the signed request and buys elsewhere", async () => {
    const keyFile = await freshOwner("stalled");
    const first = await cli(["chat", "--network", network, "--key-file", keyFile, "Hello"]);
    expect(first.code, first.stderr).toBe(0);
    const { nodeId, stackId } = receiptOf(first.stderr);
    const k = ready.nodes.findIndex((n) => n.id === nodeId);
    const relay = await startRelay(ready.nodes[k]!.url);
    const operator = userContext(parseNetwork(JSON.stringify(ready)), nodeKey(k));
    await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: relay.url });
    try {
      let cut = false;
      const ours = (path: string, headers: Record<string, string>) =>
        path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The node commits leaf 1 and cuts the answer; asked again for it, it says the nonce is used, no receipt.
      relay.rewrite = (body, path, headers) => {
        if (!ours(path, headers)) return body;
        const code = cut ? "nonce_reused" : "relay";
        return JSON.stringify({ error: { message: code, type: "conflict_error", code } });
      };
      relay.statusOf = (status, path, headers) => {
        if (!ours(path, headers)) return status;
        if (cut) return 409;
        cut = true;
        return 502;
      };
      const broken = await cli(["chat", "--network", network, "--key-file", keyFile, "Second"]);
      expect(broken.code).not.toBe(0);
      const next = await cli(["chat", "--network", network, "--key-file", keyFile, "Third"]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toMatch(/withholds the receipt of the request at nonce 1/);
      const served = receiptOf(next.stderr);
      expect(served.bought).toBe(true);
      expect(served.nodeId).not.toBe(nodeId);
      const ctx = readContext(parseNetwork(JSON.stringify(ready)));
      const home = await stackHome(ctx.publicClient, ready.contracts.StackManager!);
      expect(loadAside(asideFile(receipts, home)).map((n) => n.nodeId)).toEqual([nodeId]);
      // Closed by its owner: settled by the close plus the window, not at its expiry.
      expect((await getStack(ctx, BigInt(stackId))).closedAt).toBeGreaterThan(0n);
      // The signed request the node committed is kept, the owner's evidence.
      const kept = loadPending(pendingFile(receiptsFile(receipts, home, BigInt(stackId))));
      expect(kept.map((p) => p.signed.nonce)).toEqual([1n]);
      // A later run is not jammed either: it goes on with the stack just bought.
      const later = await cli(["chat", "--network", network, "--key-file", keyFile, "Fourth"]);
      expect(later.code, later.stderr).toBe(0);
      expect(receiptOf(later.stderr).stackId).toBe(served.stackId);
    } finally {
      await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: ready.nodes[k]!.url });
      await relay.close();
    }
  }, 300_000);
});
