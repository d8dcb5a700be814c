import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTinyModel, fingerprintEmbeddedOptions } from "@atoma/engine";
import { writeDevKeyFile } from "@atoma/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cliProcess.js";

const root = mkdtempSync(join(tmpdir(), "atoma-cli-fingerprint-"));
const tiny = ensureTinyModel();
let env: Record<string, string>;

beforeAll(async () => {
  const key = await writeDevKeyFile(join(root, "node.key"));
  env = {
    // Nothing is read from the chain: the fingerprint is the engine's.
    ATOMA_NODE_CHAIN_RPC_URL: "http://127.0.0.1:9",
    ATOMA_NODE_CHAIN_CHAIN_ID: "31337",
    ATOMA_NODE_NODE_KEY_FILE: key.path,
    ATOMA_NODE_NODE_DATA_DIR: join(root, "data"),
    ATOMA_NODE_MODEL_PATH: tiny.path,
    ATOMA_NODE_MODEL_ENGINE: JSON.stringify({ threads: 1, contextSize: 1024 }),
  };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function fingerprint(extra: Record<string, string> = {}) {
  const run = runCli(["node", "fingerprint"], { ...env, ...extra });
  return { code: await run.exited, stdout: run.stdout(), stderr: run.stderr() };
}

describe("atoma node fingerprint", () => {
  it("prints the fingerprint a node with this configuration computes, and what it was computed with", async () => {
    const printed = await fingerprint();
    expect(printed.code).toBe(0);
    const expected = await fingerprintEmbeddedOptions({
      models: [{ id: "tiny", path: tiny.path }],
      threads: 1,
      contextSize: 1024,
    });
    expect(printed.stdout).toBe(`${expected.fingerprint}\n`);
    expect(printed.stderr).toContain("contextSize 1024, batchSize 512, threads 1, flashAttention false");

    // A setting that changes the numerics (batch size) gives another fingerprint; one that does not (threads) the same.
    const batch = await fingerprint({
      ATOMA_NODE_MODEL_ENGINE: JSON.stringify({ threads: 1, contextSize: 1024, batchSize: 64 }),
    });
    expect(batch.stdout.trim()).toMatch(/^0x[0-9a-f]{64}$/);
    expect(batch.stdout).not.toBe(printed.stdout);
    const threads = await fingerprint({
      ATOMA_NODE_MODEL_ENGINE: JSON.stringify({ threads: 2, contextSize: 1024 }),
    });
    expect(threads.stdout).toBe(printed.stdout);
  });

  it("refuses a bad engine option in one line", async () => {
    const printed = await fingerprint({ ATOMA_NODE_MODEL_ENGINE: JSON.stringify({ batchSize: 0 }) });
    expect(printed.code).toBe(1);
    expect(printed.stdout).toBe("");
    expect(printed.stderr.trim().split("\n")).toHaveLength(1);
    expect(printed.stderr).toContain("embedded engine option batchSize");
  });
});
