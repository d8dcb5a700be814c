import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../../test/helpers/fileServer.js";
import { ModelDownloadError, WeightsRootMismatchError } from "../errors.js";
import { writeTinyModel } from "../tinyModel/writeTinyModel.js";
import { weightsRoot } from "../weights/weightsRoot.js";
import { parseModelSource, pullModel } from "./pullModel.js";

const model = writeTinyModel({ seed: 9, shape: { width: 128, layers: 3 } }); // ~2 MB: several chunks
let server: FileServer;
let dir: string;
beforeAll(async () => {
  server = await startFileServer({ "/org/tiny/resolve/main/sub dir/model.gguf": model });
  dir = mkdtempSync(join(tmpdir(), "atoma-pull-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("pullModel", () => {
  it("parses hf: sources and refuses others", () => {
    expect(parseModelSource("hf:org/tiny/sub dir/model.gguf")).toEqual({
      repo: "org/tiny",
      file: "sub dir/model.gguf",
    });
    for (const bad of ["org/tiny/model.gguf", "hf:org/model.gguf", "hf:org/tiny/../x", "hf:org/tiny/"])
      expect(() => parseModelSource(bad)).toThrow(InvalidInputError);
  });

  it("resumes an interrupted download with a range request and verifies the result", async () => {
    const to = join(dir, "resume");
    const source = "hf:org/tiny/sub dir/model.gguf";
    server.cutNextAfter = 700_000;
    const progress: number[] = [];
    await expect(
      pullModel(source, { to, baseUrl: server.url, onProgress: (p) => progress.push(p.received) }),
    ).rejects.toBeInstanceOf(ModelDownloadError);
    const partial = join(to, "model.gguf.partial");
    // The server cuts the connection after 700,000 bytes; a reset can drop bytes still in flight, so the client
    // may hold fewer, but never more, and the resume must start exactly where its file ends.
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(700_000);
    expect(existsSync(join(to, "model.gguf"))).toBe(false);
    expect(progress.at(-1)).toBe(kept);

    writeFileSync(join(dir, "reference.gguf"), model);
    const expectedRoot = await weightsRoot(join(dir, "reference.gguf"));
    const pulled = await pullModel(source, { to, baseUrl: server.url, expectedRoot, token: "secret" });
    expect(server.requests.at(-1)?.range).toBe(`bytes=${kept}-`);
    expect(server.requests.at(-1)?.authorization).toBe("Bearer secret");
    expect(pulled).toEqual({
      path: join(to, "model.gguf"),
      bytes: model.length,
      downloaded: true,
      resumedFrom: kept,
    });
    expect(Buffer.from(readFileSync(pulled.path)).equals(Buffer.from(model))).toBe(true);
    expect(existsSync(partial)).toBe(false);

    const again = await pullModel(source, { to, baseUrl: server.url });
    expect(again.downloaded).toBe(false);
  });

  it("starts over when the server ignores the range", async () => {
    const to = join(dir, "norange");
    server.cutNextAfter = 100_000;
    await expect(pullModel("hf:org/tiny/sub dir/model.gguf", { to, baseUrl: server.url })).rejects.toThrow();
    server.ignoreRanges = true;
    try {
      const pulled = await pullModel("hf:org/tiny/sub dir/model.gguf", { to, baseUrl: server.url });
      expect(pulled.resumedFrom).toBe(0);
      expect(Buffer.from(readFileSync(pulled.path)).equals(Buffer.from(model))).toBe(true);
    } finally {
      server.ignoreRanges = false;
    }
  });

  it("names failures: a missing file, an unreachable server, a root that does not match", async () => {
    await expect(
      pullModel("hf:org/tiny/missing.gguf", { to: dir, baseUrl: server.url }),
    ).rejects.toMatchObject({
      code: "model_download_failed",
      shortMessage: expect.stringContaining("HTTP 404"),
    });
    await expect(
      pullModel("hf:org/tiny/x.gguf", { to: dir, baseUrl: "http://127.0.0.1:1" }),
    ).rejects.toBeInstanceOf(ModelDownloadError);
    const to = join(dir, "wrong-root");
    await expect(
      pullModel("hf:org/tiny/sub dir/model.gguf", {
        to,
        baseUrl: server.url,
        expectedRoot: `0x${"11".repeat(32)}`,
      }),
    ).rejects.toBeInstanceOf(WeightsRootMismatchError);
    expect(existsSync(join(to, "model.gguf"))).toBe(false);
    expect(existsSync(join(to, "model.gguf.partial"))).toBe(false);
  });
});
