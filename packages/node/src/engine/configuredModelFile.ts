import { existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { dirname } from "node:path";
import type { Hash, Logger } from "@atoma/core";
import { assertGgufModel, pullModel } from "@atoma/engine";
import type { NodeConfig } from "../config/loadConfig.js";

/**
 * Makes `model.path` hold the served GGUF before the node starts: with `model.source` and no file yet, downloads it
 * there (resuming a partial download, refusing a file whose root is not `model.weightsRoot` when that is set).
 * Throws ModelFileError when the file is not a GGUF model, ModelDownloadError / WeightsRootMismatchError when the
 * download fails; without `source` a missing file is left to the engine's own ConfigError.
 */
export async function ensureConfiguredModel(
  config: NodeConfig,
  options: { logger: Logger; token?: string | undefined },
): Promise<void> {
  const { source, path } = config.model;
  if (source === undefined) {
    if (existsSync(path)) await assertGgufModel(path);
    return;
  }
  if (!existsSync(path)) {
    options.logger.info({ source, path }, "downloading the model");
    const pulled = await pullModel(source, {
      to: dirname(path),
      baseUrl: config.model.sourceEndpoint,
      token: options.token,
      expectedRoot: config.model.weightsRoot as Hash | undefined,
    });
    if (pulled.path !== path) await rename(pulled.path, path);
  }
  await assertGgufModel(path);
}
