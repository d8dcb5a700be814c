import { join } from "node:path";
import type { Logger } from "@atoma/core";
import { defaultModelCacheDir, ensureTinyModel, type ModelFile, resolveModelFile } from "@atoma/engine";

/** What `atoma dev --model` names: a GGUF file or `hf:<owner>/<repo>/<file>`, and where `hf:` is fetched from. */
export interface DevModelSource {
  source: string;
  /** @default Hugging Face */
  endpoint?: string | undefined;
  /** Bearer token for gated `hf:` repositories. */
  token?: string | undefined;
}

/**
 * The model file the dev network serves: the tiny model when none is named, else the named file, with `hf:`
 * sources downloaded into `<stateDir>/models` (or the shared model cache when nothing is kept) and reused there.
 */
export async function devModelFile(
  model: DevModelSource | undefined,
  stateDir: string | undefined,
  logger: Logger,
): Promise<ModelFile> {
  if (model === undefined) {
    const tiny = ensureTinyModel();
    return { id: tiny.id, path: tiny.path };
  }
  const cacheDir = stateDir === undefined ? join(defaultModelCacheDir(), "hf") : join(stateDir, "models");
  let reported = 0;
  const file = await resolveModelFile(model.source, {
    cacheDir,
    baseUrl: model.endpoint,
    token: model.token,
    onProgress: ({ received, total }) => {
      // A line per 10% (or per 100 MB when the size is unknown), not one per chunk.
      const step = total ? total / 10 : 100e6;
      if (received - reported < step && received !== total) return;
      reported = received;
      logger.info({ source: model.source, received, total }, "downloading the model");
    },
  });
  logger.info({ model: file.id, path: file.path }, "serving this model");
  return file;
}
