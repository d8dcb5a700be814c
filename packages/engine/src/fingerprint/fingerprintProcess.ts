import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Llama } from "node-llama-cpp";
import { computeFingerprint, type EngineFingerprint, type NumericSettings } from "./fingerprint.js";

const run = promisify(execFile);

interface ProcessRequest {
  settings: NumericSettings;
  /** A node-llama-cpp module to load instead of the installed one (a CPU variant build). */
  nodeLlamaCppUrl?: string | undefined;
  modelDir?: string | undefined;
}

/**
 * Computes a fingerprint in a fresh process: one process holds one llama.cpp, so a second build (or proof that a
 * fingerprint survives a restart) needs its own. Resolves with what that process computed.
 */
export async function fingerprintInChildProcess(
  settings: NumericSettings,
  options: { nodeLlamaCppUrl?: string | undefined; modelDir?: string | undefined; timeoutMs?: number } = {},
): Promise<EngineFingerprint> {
  const self = fileURLToPath(import.meta.url);
  // From the TypeScript sources (tests, benchmarks) the child needs tsx; from dist it runs as is.
  const loader = self.endsWith(".ts") ? ["--import", "tsx"] : [];
  const request: ProcessRequest = {
    settings,
    nodeLlamaCppUrl: options.nodeLlamaCppUrl,
    modelDir: options.modelDir,
  };
  const { stdout } = await run(process.execPath, [...loader, self, JSON.stringify(request)], {
    timeout: options.timeoutMs ?? 300_000,
    maxBuffer: 1 << 20,
  });
  const last = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as EngineFingerprint;
}

async function main(raw: string): Promise<void> {
  const request = JSON.parse(raw) as ProcessRequest;
  const binding = (await import(
    request.nodeLlamaCppUrl ?? "node-llama-cpp"
  )) as typeof import("node-llama-cpp");
  const llama: Llama = await binding.getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    logLevel: binding.LlamaLogLevel.error,
  });
  try {
    const fingerprint = await computeFingerprint(llama, request.settings, { modelDir: request.modelDir });
    process.stdout.write(`${JSON.stringify(fingerprint)}\n`);
  } finally {
    await llama.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv[2] ?? "{}");
