import { existsSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Hash } from "@atoma/core";
import { readGgufFileInfo } from "node-llama-cpp";
import { ModelFileError } from "../errors.js";
import { type DownloadProgress, parseModelSource, pullModel } from "./pullModel.js";

/** A GGUF model file ready to load, and the id it is served under. */
export interface ModelFile {
  /** The file name without `.gguf` (what `model.id` defaults to in a node's configuration). */
  id: string;
  /** Absolute path. */
  path: string;
}

export interface ModelFileOptions {
  /** Where `hf:` sources are downloaded to (under `<owner>/<repo>/`). */
  cacheDir: string;
  /** Where `hf:` sources are fetched from. @default Hugging Face */
  baseUrl?: string | undefined;
  token?: string | undefined;
  /** A downloaded file must have this weights root. */
  expectedRoot?: Hash | undefined;
  onProgress?: ((progress: DownloadProgress) => void) | undefined;
}

/**
 * The model file a source names: a path to a GGUF file, or `hf:<owner>/<repo>/<file>`, downloaded into the cache
 * (resumed, reused once there). Throws ModelFileError when the path names no file or the file is not a GGUF model,
 * InvalidInputError for a malformed `hf:` source, ModelDownloadError when the download fails.
 */
export async function resolveModelFile(source: string, options: ModelFileOptions): Promise<ModelFile> {
  let path: string;
  if (source.startsWith("hf:")) {
    const { repo } = parseModelSource(source);
    path = (
      await pullModel(source, {
        to: join(options.cacheDir, ...repo.split("/")),
        baseUrl: options.baseUrl,
        token: options.token,
        expectedRoot: options.expectedRoot,
        onProgress: options.onProgress,
      })
    ).path;
  } else {
    path = resolve(source);
    if (!existsSync(path) || !statSync(path).isFile())
      throw new ModelFileError(`no model file at ${source} (give a .gguf file or hf:<owner>/<repo>/<file>)`);
  }
  await assertGgufModel(path);
  return { id: basename(path).replace(/\.gguf$/i, ""), path };
}

/** Refuses a file that does not start with the GGUF magic or whose metadata llama.cpp's reader cannot read. */
export async function assertGgufModel(path: string): Promise<void> {
  const file = await open(path, "r");
  const magic = Buffer.alloc(4);
  try {
    await file.read(magic, 0, 4, 0);
  } finally {
    await file.close();
  }
  if (magic.toString("latin1") !== "GGUF") throw new ModelFileError(`${path} is not a GGUF model file`);
  try {
    await readGgufFileInfo(path, { readTensorInfo: false });
  } catch (error) {
    throw new ModelFileError(
      `${path} is not a readable GGUF model file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
