import type { Hash } from "@atoma/core";
import type { Llama } from "node-llama-cpp";
import { hexToBytes, keccak256 } from "viem";
import { tinyVocabulary } from "../tinyModel/vocabulary.js";
import { PROBE_VERSION, type ProbeOutput, runProbe } from "./probe.js";
import { ensureProbeModel } from "./probeModel.js";

/** The engine settings the probe runs with. */
export interface NumericSettings {
  /**
   * Tokens one request may hold. Hashed by value: it decides which prompts are refused and how long a chat
   * without `max_tokens` runs, so two nodes with different context sizes answer some requests differently.
   */
  contextSize: number;
  /** Tokens per evaluation. Hashed by value: it changes the logits of prompts whose split it changes (measured). */
  batchSize: number;
  /** Hashed by value; on, the logits past 256 tokens depend on the thread count. The embedded engine keeps it off. */
  flashAttention: boolean;
  /** Not hashed by value (with flash attention off it does not change a bit, measured); the probe runs with it. */
  threads: number;
}

/** What the probe's numerics depend on besides the settings: the llama.cpp build and the hardware it found. */
export interface BackendInfo {
  /** node-llama-cpp's GPU backend, or false for CPU only. */
  gpu: string | false;
  /** llama.cpp's own summary of the instruction sets its CPU backend uses. */
  systemInfo: string;
  llamaCppRelease: string;
}

export interface EngineFingerprint {
  /** The numeric identity registered per echelon: keccak256 of the version, the hashed settings and the probe's logits. */
  fingerprint: Hash;
  probeVersion: number;
  settings: NumericSettings;
  /** keccak256 of the probe's logits alone: tells whether two fingerprints differ by numerics or by settings. */
  numerics: Hash;
  /** The probe's greedy tokens: usually equal between builds whose logits differ in the last bits. */
  greedyTokens: number[];
  backend: BackendInfo;
  /** Milliseconds the probe took (model load, context, evaluation). */
  ms: number;
}

/** The smallest context the probe runs in (its prompt and steps must fit); the probe model's own limit caps it. */
const MIN_PROBE_CONTEXT = 512;

/**
 * Runs the fixed probe through `llama` with the engine's settings and hashes what it computes. Exactly
 * reproducible on the same build and settings, across runs and processes; well under a second.
 */
export async function computeFingerprint(
  llama: Llama,
  settings: NumericSettings,
  options: { modelDir?: string | undefined } = {},
): Promise<EngineFingerprint> {
  const started = performance.now();
  const file = ensureProbeModel(options.modelDir);
  const vocabulary = tinyVocabulary();
  const model = await llama.loadModel({
    modelPath: file.path,
    defaultContextFlashAttention: settings.flashAttention,
  });
  let output: ProbeOutput;
  try {
    const context = await model.createContext({
      contextSize: Math.min(Math.max(settings.contextSize, MIN_PROBE_CONTEXT), model.trainContextSize),
      batchSize: settings.batchSize,
      threads: settings.threads,
      flashAttention: settings.flashAttention,
      sequences: 1,
    });
    try {
      output = await runProbe(context.getSequence(), vocabulary.bos, vocabulary.tokens.length);
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
  const { fingerprint, numerics } = encodeFingerprint(settings, output);
  return {
    fingerprint,
    probeVersion: PROBE_VERSION,
    settings: { ...settings },
    numerics,
    greedyTokens: output.tokens,
    backend: {
      gpu: llama.gpu,
      systemInfo: llama.systemInfo.trim(),
      llamaCppRelease: llama.llamaCppRelease.release,
    },
    ms: Math.round(performance.now() - started),
  };
}

const DOMAIN = new TextEncoder().encode("atoma/engine-fingerprint");

/**
 * The hashes, over bytes anyone can rebuild:
 * `numerics = keccak256(for each kept position: uint32 n ‖ n float32 logits, little-endian, in token order)`;
 * `fingerprint = keccak256("atoma/engine-fingerprint" ‖ uint32 version ‖ uint32 contextSize ‖ uint32 batchSize ‖
 * uint8 flashAttention ‖ numerics)`, integers big-endian.
 */
export function encodeFingerprint(
  settings: NumericSettings,
  output: ProbeOutput,
): { fingerprint: Hash; numerics: Hash } {
  const size = output.logits.reduce((total, row) => total + 4 + row.length * 4, 0);
  const bits = new Uint8Array(size);
  const view = new DataView(bits.buffer);
  let at = 0;
  for (const row of output.logits) {
    view.setUint32(at, row.length);
    at += 4;
    for (const logit of row) {
      view.setFloat32(at, logit, true);
      at += 4;
    }
  }
  const numerics = keccak256(bits);
  const header = new Uint8Array(DOMAIN.length + 13 + 32);
  header.set(DOMAIN, 0);
  const fields = new DataView(header.buffer, DOMAIN.length);
  fields.setUint32(0, PROBE_VERSION);
  fields.setUint32(4, settings.contextSize);
  fields.setUint32(8, settings.batchSize);
  fields.setUint8(12, settings.flashAttention ? 1 : 0);
  header.set(hexToBytes(numerics), DOMAIN.length + 13);
  return { fingerprint: keccak256(header), numerics };
}
