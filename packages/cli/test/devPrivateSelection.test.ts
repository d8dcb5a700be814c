import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AtomaAddresses,
  createAtomaPublicClient,
  disputeSelectionAbi,
  getVrfKey,
  settlementDrawAbi,
} from "@atoma/chain";
import { describe, expect, it } from "vitest";
import { runCli, waitForReady } from "./cliProcess.js";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: AtomaAddresses;
  nodes: { id: string }[];
}

const eventually = async <T>(probe: () => Promise<T | undefined>, what: string): Promise<T> => {
  for (let i = 0; i < 120; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** `atoma dev --private-selection`: attesters and dispute committees select themselves by VRF. */
describe("atoma dev --private-selection", () => {
  it("deploys the VRF key registry and the committee selection, wires both, and its node registers a VRF key", async () => {
    const run = runCli([
      "dev",
      "--private-selection",
      "--nodes",
      "1",
      "--no-proxy",
      "--no-explorer",
      "--log-level",
      "warn",
    ]);
    try {
      const ready = await waitForReady<Ready>(run, 240_000);
      const { contracts } = ready;
      expect(contracts.VrfKeyRegistry).toBeDefined();
      expect(contracts.DisputeSelection).toBeDefined();
      const publicClient = createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId });
      const read = <F extends "vrfKeys" | "disputes">(
        address: `0x${string}`,
        abi: typeof disputeSelectionAbi | typeof settlementDrawAbi,
        functionName: F,
      ) =>
        publicClient.readContract({
          address,
          abi: abi as typeof disputeSelectionAbi,
          functionName,
        } as never) as Promise<string>;
      expect(await read(contracts.SettlementDraw, settlementDrawAbi, "vrfKeys")).toBe(
        contracts.VrfKeyRegistry,
      );
      expect(await read(contracts.DisputeSelection!, disputeSelectionAbi, "disputes")).toBe(
        contracts.DisputeManager,
      );
      expect(await read(contracts.DisputeSelection!, disputeSelectionAbi, "vrfKeys")).toBe(
        contracts.VrfKeyRegistry,
      );
      const nodeId = BigInt(ready.nodes[0]!.id);
      const key = await eventually(
        () => getVrfKey({ publicClient, addresses: contracts }, nodeId),
        "the dev node's VRF key",
      );
      expect(key).toBeDefined();
    } finally {
      run.child.kill("SIGINT");
    }
    expect(await run.exited).toBe(0);
  }, 300_000);

  it("refuses a state directory first deployed without it, in one line and with a non-zero exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "atoma-dev-private-"));
    try {
      const plain = runCli([
        "dev",
        "--state-dir",
        dir,
        "--nodes",
        "0",
        "--no-proxy",
        "--no-explorer",
        "--log-level",
        "warn",
      ]);
      await waitForReady<Ready>(plain, 240_000);
      plain.child.kill("SIGINT");
      expect(await plain.exited).toBe(0);
      const run = runCli([
        "dev",
        "--state-dir",
        dir,
        "--private-selection",
        "--nodes",
        "0",
        "--no-proxy",
        "--no-explorer",
      ]);
      expect(await run.exited).not.toBe(0);
      expect(run.stderr()).toMatch(/made without --private-selection/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
