import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keccak256 } from "viem";
import {
  DEFAULT_TINY_SEED,
  DEFAULT_TINY_SHAPE,
  resolveTinySeed,
  resolveTinyShape,
  resolveTinyTemplate,
  type TinyModelOptions,
  writeTinyModel,
} from "./writeTinyModel.js";

export interface TinyModelFile {
  /** Absolute path of the GGUF file. */
  path: string;
  /** The model id it is served under: `atoma-tiny` for the default, `atoma-tiny-s<seed>[-<shape>]` otherwise. */
  id: string;
  /** keccak256 of the file's bytes (also in its name). */
  contentHash: `0x${string}`;
  size: number;
}

/**
 * The cache directory for generated models: `$ATOMA_CACHE_DIR/models` when set, else `.cache/atoma/models` in the
 * nearest `node_modules` above this package, so the CLI, the node and every test share one copy.
 */
export function defaultModelCacheDir(): string {
  const fromEnv = process.env.ATOMA_CACHE_DIR;
  if (fromEnv) return join(fromEnv, "models");
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "node_modules"))) return join(dir, "node_modules", ".cache", "atoma", "models");
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), ".atoma", "models");
    dir = parent;
  }
}

/** The id a tiny model of this seed and shape is served under. */
export function tinyModelId(options: TinyModelOptions = {}): string {
  const template = resolveTinyTemplate(options.template);
  const suffix = template === "chatml" ? "" : `-${template}`;
  return chatmlTinyModelId(options) + suffix;
}

function chatmlTinyModelId(options: TinyModelOptions): string {
  const seed = resolveTinySeed(options.seed);
  const shape = resolveTinyShape(options.shape);
  const isDefaultShape = Object.entries(DEFAULT_TINY_SHAPE).every(
    ([key, value]) => shape[key as keyof typeof shape] === value,
  );
  if (isDefaultShape) return seed === DEFAULT_TINY_SEED ? "atoma-tiny" : `atoma-tiny-s${seed}`;
  const { layers, width, heads, kvHeads, feedForward, contextLength } = shape;
  return `atoma-tiny-s${seed}-l${layers}w${width}h${heads}kv${kvHeads}ff${feedForward}c${contextLength}`;
}

/**
 * Writes the tiny model for (seed, shape) into `dir`, or reuses the file already there: the name carries the
 * content hash, so an existing file with that name is the same bytes. Writes go to a temporary file that is then
 * renamed, so concurrent callers (test workers) never see a partial file.
 */
export function ensureTinyModel(
  options: TinyModelOptions & { dir?: string | undefined } = {},
): TinyModelFile {
  const bytes = writeTinyModel(options);
  const contentHash = keccak256(bytes);
  const id = tinyModelId(options);
  const dir = options.dir ?? defaultModelCacheDir();
  const path = join(dir, `${id}-${contentHash.slice(2, 18)}.gguf`);
  if (!existsSync(path) || statSync(path).size !== bytes.length) {
    mkdirSync(dir, { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  }
  return { path, id, contentHash, size: bytes.length };
}
