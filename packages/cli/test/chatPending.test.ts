import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setNodeUrl, submitSettlement } from "@atoma/chain";
import { loadKeyFile } from "@atoma/node";
import { parseNetwork, readContext, userContext } from "@atoma/sdk";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  erc20Abi,
  type Hex,
  http,
  keccak256,
  parseEther,
  toHex,
} from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay } from "../../sdk/test/relay.js";
import { asideFile } from "../src/chat/asideStore.js";
import { stackHome } from "../src/chat/receiptStore.js";
import { type CliRun, runCli, waitForReady } from "./cliProcess.js";

/** anvil's public dev mnemonic: `atoma dev` funds its accounts 1 to 9 with TOMA. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  nodes: { id: string; url: string }[];
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const run = runCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

function receiptOf(stderr: string): { nodeId: string; stackId: string; leafIndex: string; bought: boolean } {
  const line = stderr.split("\n").find((l) => l.startsWith("receipt "));
  if (!line) throw new Error(`no receipt line in:\n${stderr}`);
  return JSON.parse(line.slice("receipt ".length));
}

/**
 * Review sdk M-5 and issue 13's `closedEarly`: what `atoma chat` must carry from one run to the next, on a real dev
 * network whose node URL leads through a real HTTP server that misbehaves as scripted.
 */
describe("atoma chat across runs (atoma dev --nodes 3)", () => {
  let dev: CliRun;
  let ready: Ready;
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-pending-"));
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

  /** A key file of a fresh owner (no stack yet), funded with gas and TOMA by a dev account. */
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

  /** Points node `nodeId`'s registered URL at a relay in front of it for `run`, then back. */
  async function behindRelay<T>(
    nodeId: string,
    run: (relay: Awaited<ReturnType<typeof startRelay>>, k: number) => Promise<T>,
  ) {
    const k = ready.nodes.findIndex((n) => n.id === nodeId);
    const relay = await startRelay(ready.nodes[k]!.url);
    const operator = userContext(parseNetwork(JSON.stringify(ready)), nodeKey(k));
    await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: relay.url });
    try {
      return await run(relay, k);
    } finally {
      await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: ready.nodes[k]!.url });
      await relay.close();
    }
  }

  // Review sdk M-5: the node committed the request and cut the answer; the next run signed another body at that nonce,
  // was refused `nonce_reused` (NonceGapError), and picked the same stack again on every run.
  it("resends the request a run left without a receipt, same signature, and goes on", async () => {
    const keyFile = await freshOwner("pending");
    const first = await cli(["chat", "--network", network, "--key-file", keyFile, "Hello"]);
    expect(first.code, first.stderr).toBe(0);
    const { nodeId, stackId } = receiptOf(first.stderr);
    await behindRelay(nodeId, async (relay) => {
      let cut = false;
      const cutting = (path: string, headers: Record<string, string>) =>
        !cut && path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The relay reads the node's whole answer (committed) and hands back a failure instead.
      relay.rewrite = (body, path, headers) => {
        if (!cutting(path, headers)) return body;
        return JSON.stringify({ error: { message: "bad gateway", type: "server_error", code: "relay" } });
      };
      relay.statusOf = (status, path, headers) => {
        if (!cutting(path, headers)) return status;
        cut = true;
        return 502;
      };
      const broken = await cli(["chat", "--network", network, "--key-file", keyFile, "Second"]);
      expect(broken.code).not.toBe(0);
      const again = await cli(["chat", "--network", network, "--key-file", keyFile, "Third"]);
      expect(again.code, again.stderr).toBe(0);
      expect(receiptOf(again.stderr)).toMatchObject({ stackId, leafIndex: "2", bought: false });
      const posts = relay.requests.filter((r) => r.path.startsWith("/v1/chat"));
      expect(posts.map((p) => p.headers["x-atoma-nonce"])).toEqual(["1", "1", "2"]);
      expect(posts[1]!.headers["x-atoma-signature"]).toBe(posts[0]!.headers["x-atoma-signature"]);
      expect(posts[1]!.body).toBe(posts[0]!.body);
    });
  }, 180_000);

  // Issue 13: a run's first request on a stack is its first send, so `closedEarly` never knew of the earlier run's use
  // and a node that closed a stack just used was never put aside.
  it("puts aside a node that closes a stack an earlier run used a moment ago, units left", async () => {
    const keyFile = await freshOwner("closed");
    const first = await cli(["chat", "--network", network, "--key-file", keyFile, "Hello"]);
    expect(first.code, first.stderr).toBe(0);
    const { nodeId, stackId } = receiptOf(first.stderr);
    await behindRelay(nodeId, async (relay, k) => {
      let closing = false;
      const ours = (path: string, headers: Record<string, string>) =>
        path.startsWith("/v1/chat") && headers["x-atoma-stack"] === stackId;
      // The node settles the stack at once (its own key) and calls it closed.
      relay.rewrite = async (body, path, headers) => {
        if (!ours(path, headers)) return body;
        if (!closing) {
          closing = true;
          await submitSettlement(
            userContext(parseNetwork(JSON.stringify(ready)), nodeKey(k)),
            {
              stackId: BigInt(stackId),
              root: keccak256(toHex("one leaf")),
              units: 1n,
              requestCount: 1n,
              transcriptId: keccak256(toHex("transcript")),
            },
            { draw: false },
          );
        }
        return JSON.stringify({
          error: { message: "the stack is closed", type: "conflict_error", code: "stack_closed" },
        });
      };
      relay.statusOf = (status, path, headers) => (ours(path, headers) ? 409 : status);
      const next = await cli(["chat", "--network", network, "--key-file", keyFile, "Again"]);
      expect(next.code, next.stderr).toBe(0);
      expect(receiptOf(next.stderr)).toMatchObject({ bought: true });
      expect(receiptOf(next.stderr).nodeId).not.toBe(nodeId);
      const home = await stackHome(
        readContext(parseNetwork(JSON.stringify(ready))).publicClient,
        ready.contracts.StackManager!,
      );
      const aside = JSON.parse(readFileSync(asideFile(receipts, home), "utf8")) as { nodeId: string }[];
      expect(aside.map((n) => n.nodeId)).toEqual([nodeId]);
    });
  }, 180_000);
});
