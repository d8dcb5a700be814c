import { InvalidInputError } from "@atoma/core";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import {
  type EmbeddedEngineOptions,
  embeddedEngineOptionsSchema,
  type ResolvedEmbeddedEngineOptions,
} from "../embedded/options.js";
import { computeFingerprint, type EngineFingerprint, type NumericSettings } from "./fingerprint.js";

/** The settings the embedded engine runs every request with (flash attention is always off there). */
export function numericSettingsOf(
  options: Pick<ResolvedEmbeddedEngineOptions, "contextSize" | "batchSize" | "threads">,
): NumericSettings {
  return {
    contextSize: options.contextSize,
    batchSize: options.batchSize,
    threads: options.threads,
    flashAttention: false,
  };
}

/**
 * The fingerprint an embedded engine with these options has, without loading its models: the probe depends on
 * the engine's numerics, not on the model it serves. Loads llama.cpp the way the engine does (unless given one).
 */
export async function fingerprintEmbeddedOptions(
  options: EmbeddedEngineOptions,
  components: { llama?: Llama | undefined; modelDir?: string | undefined } = {},
): Promise<EngineFingerprint> {
  const parsed = embeddedEngineOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(`embedded engine option ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const resolved = parsed.data;
  const llama =
    components.llama ??
    (await getLlama({
      gpu: resolved.gpu,
      build: "never",
      skipDownload: true,
      logLevel: LlamaLogLevel.error,
    }));
  try {
    return await computeFingerprint(llama, numericSettingsOf(resolved), { modelDir: components.modelDir });
  } finally {
    if (!components.llama) await llama.dispose();
  }
}
