import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Anvil, startAnvil } from "@atoma/chain";
import { writeDevKeyFile } from "@atoma/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, waitForReady } from "./cliProcess.js";

const root = mkdtempSync(join(tmpdir(), "atoma-cli-node-"));
let anvil: Anvil;
let env: Record<string, string>;

beforeAll(async () => {
  anvil = await startAnvil();
  const key = await writeDevKeyFile(join(root, "node.key"));
  env = {
    ATOMA_NODE_CHAIN_RPC_URL: anvil.rpcUrl,
    ATOMA_NODE_CHAIN_CHAIN_ID: String(anvil.chainId),
    ATOMA_NODE_NODE_KEY_FILE: key.path,
    ATOMA_NODE_NODE_PORT: "0",
    ATOMA_NODE_NODE_DATA_DIR: join(root, "data"),
    ATOMA_NODE_MODEL_PATH: join(root, "tiny.gguf"),
  };
});
afterAll(async () => {
  await anvil?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("atoma node", () => {
  it("starts from the environment, serves, and stops cleanly on SIGINT", async () => {
    const run = runCli(["node", "start", "--log-level", "warn"], env);
    const ready = await waitForReady<{ url: string; address: string; model: string }>(run);
    expect(ready.model).toBe("tiny");
    expect(ready.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
    await expect(fetch(`${ready.url}/health`)).rejects.toThrow();
  });

  it("stops at start-up naming each missing or bad option", async () => {
    const run = runCli(["node", "start"], { ATOMA_NODE_NODE_PORT: "99999" });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain(
      "atoma: option chain.rpcUrl (ATOMA_NODE_CHAIN_RPC_URL) is required (and 4 more problems)",
    );
    expect(run.stderr()).toContain(
      "option model.path (ATOMA_NODE_MODEL_PATH) give path (a gguf file) or source (hf:<owner>/<repo>/<file>)",
    );
    expect(run.stderr()).toMatch(/option node\.port \(ATOMA_NODE_NODE_PORT\) too big/);
  });

  it("prints the validated configuration without secrets, and the variables", async () => {
    const run = runCli(["node", "config"], {
      ...env,
      ATOMA_NODE_DATABASE_URL: "postgres://atoma:hunter2@127.0.0.1:5432/atoma",
    });
    expect(await run.exited).toBe(0);
    const printed = JSON.parse(run.stdout()) as { database: { url: string }; node: { keyFile: string } };
    expect(printed.database.url).toBe("postgres://atoma:***@127.0.0.1:5432/atoma");
    expect(printed.node.keyFile).toBe("***");
    expect(run.stdout()).not.toContain("hunter2");
    const vars = runCli(["node", "config", "--env"]);
    expect(await vars.exited).toBe(0);
    expect(vars.stdout()).toContain("ATOMA_NODE_CHAIN_RPC_URL\tchain.rpcUrl");
  });
});
