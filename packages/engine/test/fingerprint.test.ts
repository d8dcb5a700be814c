import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { installedCpuVariants, prepareCpuVariantBuild } from "../src/fingerprint/cpuVariantBuild.js";
import { computeFingerprint, type NumericSettings } from "../src/fingerprint/fingerprint.js";
import { fingerprintInChildProcess } from "../src/fingerprint/fingerprintProcess.js";
import { ensureProbeModel, PROBE_MODEL_SHA256 } from "../src/fingerprint/probeModel.js";
import { testLlama } from "./helpers/llama.js";
import { startTinyEngine } from "./helpers/tinyEngine.js";

const settings: NumericSettings = { contextSize: 1024, batchSize: 512, threads: 1, flashAttention: false };
const with_ = (change: Partial<NumericSettings>): NumericSettings => ({ ...settings, ...change });
// A loaded 2-core machine can take minutes to start a process and load llama.cpp: only a hang should fail.
const CHILD = { timeout: 600_000 };

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine({ contextSize: 1024, batchSize: 512, threads: 1 });
});
afterAll(() => engine.stop());

describe("engine fingerprint", () => {
  it(
    "is the same in two separate processes and in the running engine, for the same options",
    CHILD,
    async () => {
      const first = await fingerprintInChildProcess(settings);
      const second = await fingerprintInChildProcess(settings);
      const running = await engine.fingerprint();
      expect(first.fingerprint).toMatch(/^0x[0-9a-f]{64}$/);
      expect(second.fingerprint).toBe(first.fingerprint);
      expect(second.numerics).toBe(first.numerics);
      expect(running.fingerprint).toBe(first.fingerprint);
      expect(running.settings).toEqual(settings);
    },
  );

  it("does not depend on the thread count with flash attention off (measured: not part of the identity)", async () => {
    const llama = await testLlama();
    const one = await computeFingerprint(llama, settings);
    const two = await computeFingerprint(llama, with_({ threads: 2 }));
    expect(two.fingerprint).toBe(one.fingerprint);
  });

  it("changes with a batch size that splits the probe's prompt differently: the logits themselves differ", async () => {
    const llama = await testLlama();
    const base = await computeFingerprint(llama, settings);
    const small = await computeFingerprint(llama, with_({ batchSize: 64 }));
    expect(small.numerics).not.toBe(base.numerics);
    expect(small.fingerprint).not.toBe(base.fingerprint);
    // Bits differ while the greedy tokens agree: what makes a near-tie flip one day, not today.
    expect(small.greedyTokens).toEqual(base.greedyTokens);
  });

  it("with flash attention on, depends on the thread count (the probe's prompt is past 256 tokens)", async () => {
    const llama = await testLlama();
    const off = await computeFingerprint(llama, settings);
    const onOne = await computeFingerprint(llama, with_({ flashAttention: true }));
    const onTwo = await computeFingerprint(llama, with_({ flashAttention: true, threads: 2 }));
    expect(onOne.numerics).not.toBe(off.numerics);
    expect(onTwo.numerics).not.toBe(onOne.numerics);
  });

  it("hashes the context size by value (it decides which requests fit), though the logits do not move", async () => {
    const llama = await testLlama();
    const small = await computeFingerprint(llama, settings);
    const large = await computeFingerprint(llama, with_({ contextSize: 4096 }));
    expect(large.numerics).toBe(small.numerics);
    expect(large.fingerprint).not.toBe(small.fingerprint);
  });

  it(
    "differs on a second CPU build of llama.cpp (SSE4.2 only), as an honest node on an older CPU would",
    CHILD,
    async (context) => {
      const here = await engine.fingerprint();
      if (process.platform !== "linux" || process.arch !== "x64" || !installedCpuVariants().includes("sse42"))
        return context.skip("no linux-x64 llama.cpp binary with an SSE4.2 CPU variant on this machine");
      if (!here.backend.systemInfo.includes("AVX = 1"))
        return context.skip("this CPU has no AVX: the SSE4.2 build is the one it already runs");
      const build = prepareCpuVariantBuild(["sse42", "x64"]);
      try {
        const older = await fingerprintInChildProcess(settings, { nodeLlamaCppUrl: build.nodeLlamaCppUrl });
        expect(older.backend.systemInfo).not.toContain("AVX = 1");
        expect(older.fingerprint).not.toBe(here.fingerprint);
        expect(older.numerics).not.toBe(here.numerics);
        expect(older.greedyTokens).toEqual(here.greedyTokens);
        const again = await fingerprintInChildProcess(settings, { nodeLlamaCppUrl: build.nodeLlamaCppUrl });
        expect(again.fingerprint).toBe(older.fingerprint);
      } finally {
        build.dispose();
      }
    },
  );
});

describe("probe model", () => {
  it("is the pinned bytes, and a damaged cached copy is rewritten", () => {
    const dir = mkdtempSync(join(tmpdir(), "atoma-probe-"));
    try {
      const file = ensureProbeModel(dir);
      expect(file.sha256).toBe(PROBE_MODEL_SHA256);
      const bytes = readFileSync(file.path);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1]! + 1) & 0xff;
      writeFileSync(file.path, bytes);
      expect(ensureProbeModel(dir).sha256).toBe(PROBE_MODEL_SHA256);
      expect(readFileSync(file.path).equals(bytes)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
