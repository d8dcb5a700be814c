import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@atoma/core";
import { ModelDownloadError, ModelFileError, WeightsRootMismatchError, writeTinyModel } from "@atoma/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../../../engine/test/helpers/fileServer.js";
import type { NodeConfig } from "../config/loadConfig.js";
import { ensureConfiguredModel } from "./configuredModelFile.js";

const llama3 = writeTinyModel({ template: "llama3" });
let server: FileServer;
let dir: string;
beforeAll(async () => {
  server = await startFileServer({ "/org/tiny/resolve/main/tiny-llama3.gguf": llama3 });
  dir = mkdtempSync(join(tmpdir(), "atoma-node-model-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const configOf = (model: Partial<NodeConfig["model"]>) =>
  ({ model: { id: "m", engine: {}, sourceEndpoint: server.url, ...model } }) as NodeConfig;
const options = { logger: silentLogger };

describe("ensureConfiguredModel", () => {
  it("downloads model.source to model.path once, checking the expected weights root", async () => {
    const path = join(dir, "a", "served.gguf");
    const wrong = `0x${"11".repeat(32)}`;
    await expect(
      ensureConfiguredModel(
        configOf({ source: "hf:org/tiny/tiny-llama3.gguf", path, weightsRoot: wrong }),
        options,
      ),
    ).rejects.toThrow(WeightsRootMismatchError);
    expect(existsSync(path)).toBe(false);
    await ensureConfiguredModel(configOf({ source: "hf:org/tiny/tiny-llama3.gguf", path }), options);
    expect(existsSync(path)).toBe(true);
    const requests = server.requests.length;
    await ensureConfiguredModel(configOf({ source: "hf:org/tiny/tiny-llama3.gguf", path }), options);
    expect(server.requests.length).toBe(requests);
  });

  it("refuses an absent source and a configured file that is no GGUF", async () => {
    await expect(
      ensureConfiguredModel(
        configOf({ source: "hf:org/tiny/absent.gguf", path: join(dir, "b.gguf") }),
        options,
      ),
    ).rejects.toThrow(ModelDownloadError);
    const text = join(dir, "text.gguf");
    writeFileSync(text, "hello\n");
    await expect(ensureConfiguredModel(configOf({ path: text }), options)).rejects.toThrow(ModelFileError);
  });
});
