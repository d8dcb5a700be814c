import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultModelCacheDir } from "../tinyModel/tinyModelCache.js";
import { type TinyModelShape, writeTinyModel } from "../tinyModel/writeTinyModel.js";
import { ProbeModelChangedError } from "./errors.js";

/**
 * The model the probe runs: the project's tiny Llama writer with a fixed seed and a shape whose attention heads
 * are 64 wide, like most real models', so the SIMD kernels a real model meets are the ones exercised.
 */
export const PROBE_MODEL = Object.freeze({
  seed: 0x70726f62, // "prob"
  shape: Object.freeze({
    layers: 2,
    width: 128,
    heads: 2,
    kvHeads: 1,
    feedForward: 256,
    contextLength: 4096,
  }) satisfies TinyModelShape,
});

/**
 * SHA-256 of the probe model's bytes. Pinned: every echelon's registered fingerprint depends on these exact
 * weights, so a change to the tiny-model writer must not change them silently (it fails here instead, and the
 * probe version has to be bumped, which changes every fingerprint on purpose).
 */
export const PROBE_MODEL_SHA256 = "30ee5573818f16037c5cd6ceb76faa4dfba710a6de37aae508ed10518c137973";

export interface ProbeModelFile {
  path: string;
  sha256: string;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * The probe model's file in the model cache, written (atomically) when absent or damaged. Reading and hashing
 * 1.5 MB costs a few milliseconds; writing it ~30 ms.
 */
export function ensureProbeModel(dir: string = defaultModelCacheDir()): ProbeModelFile {
  const path = join(dir, `atoma-probe-${PROBE_MODEL_SHA256.slice(0, 16)}.gguf`);
  if (existsSync(path) && sha256(readFileSync(path)) === PROBE_MODEL_SHA256)
    return { path, sha256: PROBE_MODEL_SHA256 };
  const bytes = writeTinyModel(PROBE_MODEL);
  const written = sha256(bytes);
  if (written !== PROBE_MODEL_SHA256) throw new ProbeModelChangedError(PROBE_MODEL_SHA256, written);
  mkdirSync(dir, { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
  return { path, sha256: written };
}
