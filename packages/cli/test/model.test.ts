import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { weightsRoot, writeTinyModel } from "@atoma/engine";
import { keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileServer, startFileServer } from "../../engine/test/helpers/fileServer.js";
import { runCli } from "./cliProcess.js";

let dir: string;
let server: FileServer;
const model = writeTinyModel({ seed: 4 });
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "atoma-cli-model-"));
  server = await startFileServer({ "/org/tiny/resolve/main/tiny.gguf": model });
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

describe("atoma model", () => {
  it("write-tiny writes the seeded model and root prints its weights root", async () => {
    const out = join(dir, "tiny4.gguf");
    const written = await cli(["model", "write-tiny", "--seed", "4", "--out", out]);
    expect(written).toMatchObject({ code: 0, stdout: `${out}\n` });
    expect(keccak256(readFileSync(out))).toBe(keccak256(model));
    const root = await cli(["model", "root", out]);
    expect(root.code).toBe(0);
    expect(root.stdout).toBe(`${await weightsRoot(out)}\n`);
  });

  it("write-tiny --template writes the model with another chat template", async () => {
    for (const template of ["llama3", "mistral"] as const) {
      const out = join(dir, `tiny4-${template}.gguf`);
      const written = await cli(["model", "write-tiny", "--seed", "4", "--template", template, "--out", out]);
      expect(written).toMatchObject({ code: 0, stdout: `${out}\n` });
      expect(keccak256(readFileSync(out))).toBe(keccak256(writeTinyModel({ seed: 4, template })));
    }
  });

  it("pull downloads from the endpoint with a progress bar on stderr, then checks the root", async () => {
    const to = join(dir, "pulled");
    const reference = join(dir, "reference.gguf");
    await cli(["model", "write-tiny", "--seed", "4", "--out", reference]);
    const root = await weightsRoot(reference);
    const pulled = await cli([
      "model",
      "pull",
      "hf:org/tiny/tiny.gguf",
      "--to",
      to,
      "--endpoint",
      server.url,
      "--expect-root",
      root,
    ]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toBe(`${join(to, "tiny.gguf")}\n`);
    expect(pulled.stderr).toMatch(/tiny\.gguf \[=+\] 100% /);
    expect(await weightsRoot(join(to, "tiny.gguf"))).toBe(root);
  });

  it("answers bad input with one line and a non-zero exit", async () => {
    for (const args of [
      ["model", "root", join(dir, "missing.gguf")],
      ["model", "pull", "not-a-source", "--to", dir],
      ["model", "pull", "hf:org/tiny/absent.gguf", "--to", dir, "--endpoint", server.url],
      ["model", "pull", "hf:org/tiny/tiny.gguf", "--endpoint", "ftp://x"],
      ["model", "pull", "hf:org/tiny/tiny.gguf", "--expect-root", "0x12"],
      ["model", "write-tiny", "--seed", "-3"],
      ["model", "write-tiny", "--template", "gemma"],
    ]) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });
});
