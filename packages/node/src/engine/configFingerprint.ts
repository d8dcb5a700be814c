import { type EngineFingerprint, fingerprintEmbeddedOptions } from "@atoma/engine";
import type { NodeConfig } from "../config/loadConfig.js";
import { configuredEngineOptions } from "./nodeEngine.js";

/**
 * The fingerprint a node started with this configuration computes, without starting it: the same probe through
 * llama.cpp with the same engine settings (the served model is not loaded; the probe does not depend on it).
 */
export function fingerprintOfConfig(config: NodeConfig): Promise<EngineFingerprint> {
  return fingerprintEmbeddedOptions(configuredEngineOptions(config));
}
