import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Anvil, startAnvil } from "../src/anvil/startAnvil.js";
import { waitForRpc } from "../src/anvil/waitForRpc.js";
import { createAtomaPublicClient, createAtomaWalletClient, devAccounts } from "../src/clients.js";
import { atomaContracts, deployContracts } from "../src/deploy.js";

const running: Anvil[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((anvil) => anvil.stop()));
});

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const answers = async (rpcUrl: string) => {
  try {
    await waitForRpc(rpcUrl, 300);
    return true;
  } catch {
    return false;
  }
};

describe("anvil launcher", () => {
  it("starts on a free port, answers JSON-RPC, deploys, and stops", async () => {
    const anvil = await startAnvil();
    running.push(anvil);
    expect(anvil.port).toBeGreaterThan(0);
    expect(await waitForRpc(anvil.rpcUrl, 1_000)).toBe(31337);

    const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
    const publicClient = createAtomaPublicClient(chain);
    const [deployer] = await devAccounts(chain);
    const wallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
    const { addresses, contracts } = await deployContracts(publicClient, wallet);
    expect(await contracts.token.read.symbol()).toBe("TOMA");
    expect(await publicClient.getCode({ address: addresses.AtomaToken })).not.toBe("0x");

    await anvil.stop();
    expect(isAlive(anvil.pid)).toBe(false);
    expect(await answers(anvil.rpcUrl)).toBe(false);
  });

  it("keeps state in a directory across restarts", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "atoma-anvil-"));
    try {
      const first = await startAnvil({ stateDir });
      const chain = { rpcUrl: first.rpcUrl, chainId: first.chainId };
      const publicClient = createAtomaPublicClient(chain);
      const [deployer] = await devAccounts(chain);
      const wallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
      const { addresses } = await deployContracts(publicClient, wallet);
      await first.stop();

      const second = await startAnvil({ stateDir });
      running.push(second);
      const again = createAtomaPublicClient({ rpcUrl: second.rpcUrl, chainId: second.chainId });
      const wallet2 = createAtomaWalletClient(
        { rpcUrl: second.rpcUrl, chainId: second.chainId },
        {
          address: deployer!,
          type: "json-rpc",
        },
      );
      expect(await atomaContracts(addresses, again, wallet2).token.read.name()).toBe("Atoma");
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("dies with its parent even when the parent is killed with SIGKILL", async () => {
    const script = `
      import { startAnvil } from ${JSON.stringify(new URL("../src/anvil/startAnvil.ts", import.meta.url).href)};
      const anvil = await startAnvil();
      process.stdout.write(JSON.stringify({ rpcUrl: anvil.rpcUrl }) + "\\n");
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      parent.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString()));
      parent.once("exit", (code) => reject(new Error(`parent exited early with ${code}`)));
    });
    const { rpcUrl } = JSON.parse(line) as { rpcUrl: string };
    expect(await answers(rpcUrl)).toBe(true);
    parent.kill("SIGKILL");
    await waitUntil(async () => !(await answers(rpcUrl)));
  });

  it("names the problem when anvil cannot start", async () => {
    const blocker = await startAnvil();
    running.push(blocker);
    await expect(startAnvil({ port: blocker.port, startTimeoutMs: 3_000 })).rejects.toMatchObject({
      code: "anvil_start_failed",
    });
  });
});
