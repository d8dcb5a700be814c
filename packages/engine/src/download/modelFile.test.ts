import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../../test/helpers/fileServer.js";
import { ModelDownloadError, ModelFileError } from "../errors.js";
import { writeTinyModel } from "../tinyModel/writeTinyModel.js";
import { resolveModelFile } from "./modelFile.js";

const llama3 = writeTinyModel({ template: "llama3" });
let server: FileServer;
let dir: string;
beforeAll(async () => {
  server = await startFileServer({
    "/org/tiny/resolve/main/tiny-llama3.gguf": llama3,
    "/org/tiny/resolve/main/readme.gguf": new TextEncoder().encode("# not a model\n"),
  });
  dir = mkdtempSync(join(tmpdir(), "atoma-model-file-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("resolveModelFile", () => {
  it("downloads an hf: source into the cache under its repository once, and names it after the file", async () => {
    const options = { cacheDir: join(dir, "cache"), baseUrl: server.url };
    const file = await resolveModelFile("hf:org/tiny/tiny-llama3.gguf", options);
    expect(file).toEqual({ id: "tiny-llama3", path: join(dir, "cache", "org", "tiny", "tiny-llama3.gguf") });
    const requests = server.requests.length;
    expect(await resolveModelFile("hf:org/tiny/tiny-llama3.gguf", options)).toEqual(file);
    expect(server.requests.length).toBe(requests);
  });

  it("takes a path to a GGUF file as it is", async () => {
    const path = join(dir, "local.gguf");
    writeFileSync(path, llama3);
    expect(await resolveModelFile(path, { cacheDir: dir })).toEqual({ id: "local", path });
  });

  it("refuses a missing file, a file that is no GGUF, a malformed or absent source", async () => {
    const options = { cacheDir: join(dir, "cache"), baseUrl: server.url };
    const text = join(dir, "text.gguf");
    writeFileSync(text, "GGUF but nothing after the magic");
    await expect(resolveModelFile(join(dir, "absent.gguf"), options)).rejects.toThrow(ModelFileError);
    await expect(resolveModelFile(dir, options)).rejects.toThrow(ModelFileError);
    await expect(resolveModelFile(text, options)).rejects.toThrow(ModelFileError);
    await expect(resolveModelFile("hf:org/tiny/readme.gguf", options)).rejects.toThrow(ModelFileError);
    await expect(resolveModelFile("hf:org", options)).rejects.toThrow(InvalidInputError);
    await expect(resolveModelFile("hf:org/tiny/absent.gguf", options)).rejects.toThrow(ModelDownloadError);
  });
});
