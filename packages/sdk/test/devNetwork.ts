import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { type CliRun, runCli, waitForReady } from "../../cli/test/cliProcess.js";

/** What `atoma dev`'s ready line says, as far as the SDK's tests read it. */
export interface DevReady {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Hex>;
  /** The block the contracts were deployed from (log reads start there). */
  deploymentBlock?: number;
  model: string;
  tasks: { chat: string; chatUnverified: string };
  nodes: { id: string; url: string; address: Hex; price: string }[];
  user: { address: Hex; privateKey: Hex };
  proxyUrl: string;
  apiKey: string;
  gatewayAddress: Hex;
}

export interface DevNetwork {
  ready: DevReady;
  /** The ready line's JSON, as a network file holds it. */
  readyText: string;
  /** Where `atoma dev` keeps its state: `nodes/node-<k>/node.key` is the k-th node's key. */
  stateDir: string;
  stop: () => Promise<void>;
}

/**
 * A whole dev network (`atoma dev`: anvil, contracts, one node, the gateway with a demo key) in its own state
 * directory, as a user starts it; `stop` ends it with Ctrl-C and removes the directory.
 */
export async function startDevNetwork(nodes = 1): Promise<DevNetwork> {
  const stateDir = mkdtempSync(join(tmpdir(), "atoma-sdk-dev-"));
  const run: CliRun = runCli([
    "dev",
    "--nodes",
    String(nodes),
    "--state-dir",
    stateDir,
    "--log-level",
    "warn",
  ]);
  const ready = await waitForReady<DevReady>(run, 240_000);
  return {
    ready,
    readyText: JSON.stringify(ready),
    stateDir,
    stop: async () => {
      if (run.child.exitCode === null) {
        const mark = run.stderr().length;
        // A teardown past 45 s (the hooks give it 60): what it said so far (each service that took long to stop, at
        // warn level) goes to the test's output, so a CI run that times out shows what the stop waited for.
        const slow = setTimeout(
          () => console.warn(`atoma dev still stopping:\n${run.stderr().slice(mark)}`),
          45_000,
        );
        run.child.kill("SIGINT");
        await run.exited;
        clearTimeout(slow);
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
