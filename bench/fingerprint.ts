// Engine fingerprints: which settings and llama.cpp CPU builds agree bit for bit, and what the probe costs.
import {
  computeFingerprint,
  type EngineFingerprint,
  fingerprintInChildProcess,
  installedCpuVariants,
  type NumericSettings,
  prepareCpuVariantBuild,
} from "@atoma/engine";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { percentile, report } from "./lib/report.js";

/** The embedded engine's defaults. */
const BASE: NumericSettings = { contextSize: 2048, batchSize: 512, threads: 1, flashAttention: false };
const SETTINGS: [string, Partial<NumericSettings>][] = [
  ["threads_2", { threads: 2 }],
  ["batch_64", { batchSize: 64 }],
  ["batch_128", { batchSize: 128 }],
  ["batch_256", { batchSize: 256 }],
  ["batch_299", { batchSize: 299 }],
  ["batch_1024", { batchSize: 1024 }],
  ["context_512", { contextSize: 512 }],
  ["context_4096", { contextSize: 4096 }],
  ["flash_threads_1", { flashAttention: true }],
  ["flash_threads_2", { flashAttention: true, threads: 2 }],
];
/** Builds whose ggml CPU backend may only use these instruction-set variants (x64 is the baseline). */
const BUILDS: [string, string[]][] = [
  ["build_sse42", ["sse42", "x64"]],
  ["build_haswell_avx2", ["haswell", "x64"]],
  ["build_skylakex_avx512", ["skylakex", "x64"]],
  ["build_zen4", ["zen4", "x64"]],
  ["build_x64_baseline", ["x64"]],
];
const ROUNDS = 7;

const llama = await getLlama({
  gpu: false,
  build: "never",
  skipDownload: true,
  logLevel: LlamaLogLevel.error,
});
const rows: { name: string; result: EngineFingerprint }[] = [];
const times: number[] = [];
for (let round = 0; round < ROUNDS; round++) times.push((await computeFingerprint(llama, BASE)).ms);
const base = await computeFingerprint(llama, BASE);
rows.push({ name: "default", result: base });
for (const [name, change] of SETTINGS)
  rows.push({ name, result: await computeFingerprint(llama, { ...BASE, ...change }) });
await llama.dispose();

rows.push({ name: "second_process", result: await fingerprintInChildProcess(BASE) });
const installed = installedCpuVariants();
for (const [name, variants] of BUILDS) {
  if (!variants.every((variant) => installed.includes(variant))) {
    process.stderr.write(`${name}: not installed here, skipped\n`);
    continue;
  }
  const build = prepareCpuVariantBuild(variants);
  try {
    rows.push({
      name,
      result: await fingerprintInChildProcess(BASE, { nodeLlamaCppUrl: build.nodeLlamaCppUrl }),
    });
  } finally {
    build.dispose();
  }
}

report("fingerprint_probe_ms", percentile(times, 50), "ms");
for (const { name, result } of rows.slice(1)) {
  report(`fingerprint_same_${name}`, result.fingerprint === base.fingerprint ? 1 : 0, "bool");
  report(`numerics_same_${name}`, result.numerics === base.numerics ? 1 : 0, "bool");
}
process.stderr.write(
  `\n${"case".padEnd(24)} ${"fingerprint".padEnd(14)} ${"numerics".padEnd(14)} tokens  backend\n`,
);
for (const { name, result } of rows) {
  const tokensSame = result.greedyTokens.join() === base.greedyTokens.join() ? "same" : "other";
  const sets = result.backend.systemInfo
    .replace(/^CPU : /, "")
    .replace(/ = 1/g, "")
    .replace(/ \|\s*$/, "");
  process.stderr.write(
    `${name.padEnd(24)} ${result.fingerprint.slice(0, 12).padEnd(14)} ${result.numerics.slice(0, 12).padEnd(14)} ${tokensSame.padEnd(7)} ${sets}\n`,
  );
}
