import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAtomaPublicClient, getModel, modelIdOf } from "@atoma/chain";
import { weightsRoot, writeTinyModel } from "@atoma/engine";
import type { Address, Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../../engine/test/helpers/fileServer.js";
import { type CliRun, expectRefused, runCli, waitForReady } from "./cliProcess.js";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  model: string;
  modelFile: string;
  modelRoot: Hex;
  tasks: { chat: string; chatUnverified: string };
  nodes: { id: string }[];
  user: { privateKey: string };
}

const dir = mkdtempSync(join(tmpdir(), "atoma-cli-dev-model-"));
/** The second generated model: the tiny weights with a Llama-3.1-style chat template. */
const llama3File = join(dir, "tiny-llama3.gguf");
let server: FileServer;
beforeAll(async () => {
  writeFileSync(llama3File, writeTinyModel({ template: "llama3" }));
  writeFileSync(join(dir, "notes.gguf"), "not a model\n");
  server = await startFileServer({
    "/org/tiny/resolve/main/tiny-mistral.gguf": writeTinyModel({ template: "mistral" }),
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const run = runCli(args);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe("atoma dev --model", () => {
  it("refuses a missing file, a file that is no GGUF, a bad or absent hf: source: one line, before anything starts", async () => {
    const dev = ["dev", "--nodes", "1", "--no-proxy", "--log-level", "error", "--model"];
    await expectRefused([...dev, join(dir, "absent.gguf")], /no model file at .*\(model_file_invalid\)/);
    await expectRefused([...dev, join(dir, "notes.gguf")], /is not a GGUF model file \(model_file_invalid\)/);
    await expectRefused([...dev, "hf:no-file"], /hf:<owner>\/<repo>\/<file>.*\(invalid_input\)/);
    await expectRefused(
      [...dev, "hf:org/tiny/absent.gguf", "--hf-endpoint", server.url],
      /HTTP 404 \(model_download_failed\)/,
    );
    await expectRefused([...dev, llama3File, "--hf-endpoint", "ftp://x"], /--hf-endpoint must be/);
  }, 60_000);

  it("downloads an hf: source into the state directory and registers it under the file's name", async () => {
    const stateDir = join(dir, "state");
    const dev = runCli([
      ...["dev", "--nodes", "0", "--no-proxy", "--log-level", "warn", "--state-dir", stateDir],
      ...["--model", "hf:org/tiny/tiny-mistral.gguf", "--hf-endpoint", server.url],
    ]);
    try {
      const ready = await waitForReady<Ready>(dev, 240_000);
      expect(ready.model).toBe("tiny-mistral");
      expect(ready.modelFile).toBe(join(stateDir, "models", "org", "tiny", "tiny-mistral.gguf"));
      expect(ready.modelRoot).toBe(await weightsRoot(ready.modelFile));
    } finally {
      dev.child.kill("SIGINT");
      expect(await dev.exited).toBe(0);
    }
  }, 300_000);

  describe("with the second generated model (Llama-3.1-style template)", () => {
    let dev: CliRun;
    let ready: Ready;
    beforeAll(async () => {
      dev = runCli([
        "dev",
        "--model",
        llama3File,
        "--nodes",
        "1",
        "--no-proxy",
        "--no-explorer",
        "--log-level",
        "warn",
      ]);
      ready = await waitForReady<Ready>(dev, 240_000);
    }, 300_000);
    afterAll(async () => {
      if (dev) {
        dev.child.kill("SIGINT");
        expect(await dev.exited).toBe(0);
      }
    }, 60_000);

    it("leaves out the gateway and the explorer when told to", () => {
      const printed = ready as unknown as Record<string, unknown>;
      for (const key of ["proxyUrl", "apiKey", "explorerUrl"]) expect(printed[key], key).toBeUndefined();
      expect(dev.stderr()).not.toContain("in the explorer");
    });

    it("serves it under its file name, registered on-chain with its weights root", async () => {
      expect(ready.model).toBe("tiny-llama3");
      expect(ready.modelFile).toBe(llama3File);
      expect(ready.modelRoot).toBe(await weightsRoot(llama3File));
      const client = createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId });
      const onChain = await getModel(
        { publicClient: client, addresses: ready.contracts as never },
        modelIdOf(ready.model),
      );
      expect(onChain.weightsRoot).toBe(ready.modelRoot);
    });

    it("answers atoma chat through that model", async () => {
      const network = join(dir, "network.json");
      writeFileSync(network, JSON.stringify(ready));
      const keyFile = join(dir, "user.key");
      writeFileSync(keyFile, `${ready.user.privateKey}\n`, { mode: 0o600 });
      const asked = await cli([
        ...["chat", "--network", network, "--key-file", keyFile],
        ...["--task", ready.tasks.chatUnverified, "--max-tokens", "12", "Hello"],
      ]);
      expect(asked.code, asked.stderr).toBe(0);
      expect(asked.stdout.trim().length).toBeGreaterThan(0);
    }, 120_000);
  });
});
