import { existsSync } from "node:fs";
import type { Logger } from "@atoma/core";
import { EmbeddedEngine, type EmbeddedEngineOptions, type InferenceEngine } from "@atoma/engine";
import type { NodeConfig } from "../config/loadConfig.js";
import { ConfigError } from "../errors.js";

/** The embedded engine's options as `model.*` gives them: the one GGUF, its expected weights root, the settings. */
export function configuredEngineOptions(config: NodeConfig): EmbeddedEngineOptions {
  return {
    ...config.model.engine,
    models: [
      {
        id: config.model.id,
        path: config.model.path,
        ...(config.model.weightsRoot === undefined ? {} : { weightsRoot: config.model.weightsRoot }),
      },
    ],
  } as EmbeddedEngineOptions;
}

/** The embedded engine `model.*` describes: the one GGUF, its expected weights root, and the engine settings. */
export function createConfiguredEngine(config: NodeConfig, logger: Logger): InferenceEngine {
  if (!existsSync(config.model.path))
    throw new ConfigError(`model.path (ATOMA_NODE_MODEL_PATH): no file at the configured path`);
  return new EmbeddedEngine({ logger }, configuredEngineOptions(config));
}
