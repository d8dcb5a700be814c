import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getStack } from "@atoma/chain";
import { parseNetwork, readContext, StackClient } from "@atoma/sdk";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, devNodeKey, fundedFreshBuyer } from "../../sdk/test/devActors.js";
import { type DevNetwork, startDevNetwork } from "../../sdk/test/devNetwork.js";
import { asideFile, loadAside } from "../src/chat/asideStore.js";
import { loadReceipts, receiptsFile, stackHome } from "../src/chat/receiptStore.js";
import { runCli } from "./cliProcess.js";

/**
 * Issue 13's last item in `atoma chat`: another client of the same owner (the explorer's playground, a second run
 * without the per-stack lock) took the stack's next nonce between two runs. The node's `nonce_reused` is checked
 * against the leaf it shows there: the other client's, so it is adopted and the run answers at the nonce after it,
 * on the same stack, with no node put aside and no stack closed.
 */
describe("atoma chat after another client of the owner used the next nonce (atoma dev --nodes 3)", () => {
  let dev: DevNetwork;
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-adopted-"));
  const network = join(dir, "network.json");
  const receipts = join(dir, "receipts");

  beforeAll(async () => {
    process.env.ATOMA_RECEIPTS = receipts;
    dev = await startDevNetwork(3);
    writeFileSync(network, dev.readyText);
  }, 300_000);
  afterAll(async () => {
    delete process.env.ATOMA_RECEIPTS;
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function chat(keyFile: string, prompt: string) {
    const run = runCli(["chat", "--network", network, "--key-file", keyFile, prompt]);
    const code = await run.exited;
    const stderr = run.stderr();
    expect(code, stderr).toBe(0);
    const line = stderr.split("\n").find((l) => l.startsWith("receipt "));
    return JSON.parse(line!.slice("receipt ".length)) as {
      nodeId: string;
      stackId: string;
      leafIndex: string;
      bought: boolean;
    };
  }

  it("adopts the other client's leaf and answers at the next nonce on the same stack", async () => {
    const key = generatePrivateKey();
    const account = await fundedFreshBuyer(dev, key);
    const keyFile = join(dir, "owner.key");
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    const first = await chat(keyFile, "Hello");
    expect(first.leafIndex).toBe("0");
    const k = dev.ready.nodes.findIndex((n) => n.id === first.nodeId);
    const other = new StackClient({
      nodeUrl: dev.ready.nodes[k]!.url,
      account,
      stackId: BigInt(first.stackId),
      chainId: dev.ready.chainId,
      stackManager: dev.ready.contracts.StackManager!,
      nodeSigner: devNodeKey(dev, k).address,
    });
    const theirs = await other.chat(ask(dev.ready.model, "From the playground"));
    expect(theirs.fields.leafIndex).toBe(1n);
    // The run signs at nonce 1 (its receipts end at leaf 0): refused `nonce_reused`, the leaf shown is adopted.
    const second = await chat(keyFile, "Again");
    expect(second).toMatchObject({ stackId: first.stackId, leafIndex: "2", bought: false });
    const ctx = readContext(parseNetwork(dev.readyText));
    const home = await stackHome(ctx.publicClient, dev.ready.contracts.StackManager!);
    expect(loadAside(asideFile(receipts, home))).toEqual([]);
    expect((await getStack(ctx, BigInt(first.stackId))).closedAt).toBe(0n);
    // Kept across runs: the next run starts past the adopted leaf.
    const file = receiptsFile(receipts, home, BigInt(first.stackId));
    const kept = loadReceipts(file);
    expect(kept.find((r) => r.adopted)?.signature).toBe(theirs.atoma.signature);
    // Not stamped with the time it was adopted (review L3): the leaf's own time is unknown, and a stamp would make
    // the stack look used later than it was (a node that lawfully settled it idle would look like it closed early).
    const stored = JSON.parse(readFileSync(file, "utf8")) as { signature: string; at?: number }[];
    expect(stored.find((r) => r.signature === theirs.atoma.signature)).not.toHaveProperty("at");
    expect((await chat(keyFile, "Once more")).leafIndex).toBe("3");
  }, 300_000);
});
