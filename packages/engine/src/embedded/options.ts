import { z } from "zod";

const hash = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of hex");

export const embeddedModelSchema = z.object({
  /** The id requests name (`model` field). */
  id: z.string().min(1).max(256),
  /** Path of the GGUF file. */
  path: z.string().min(1),
  /** Expected Merkle root of the file's 1 MiB chunks (the on-chain registration); a mismatch refuses to load. */
  weightsRoot: hash.optional(),
});

/**
 * Options of the embedded engine. Settings that change outputs (context size, batch size, flash attention off)
 * are fixed per engine, so every node of an echelon running the same options produces the same tokens; the
 * thread count does not change outputs.
 */
export const embeddedEngineOptionsSchema = z.object({
  models: z.array(embeddedModelSchema).min(1),
  /** `false`: CPU only; `"auto"`: whatever GPU backend node-llama-cpp finds. @default false */
  gpu: z.union([z.literal(false), z.literal("auto")]).default(false),
  /** Threads per context. @default 1 */
  threads: z.int().min(1).max(1024).default(1),
  /** Tokens one request may hold (prompt plus completion), capped at the model's training context. @default 2048 */
  contextSize: z
    .int()
    .min(64)
    .max(1 << 20)
    .default(2048),
  /** Tokens evaluated per batch (prompt processing). @default 512 */
  batchSize: z
    .int()
    .min(1)
    .max(1 << 16)
    .default(512),
  /** Requests generated at once per model (context sequences). @default 4 */
  sequences: z.int().min(1).max(256).default(4),
  /** Requests that may wait per model beyond those running; more get EngineBusyError. @default 32 */
  maxQueue: z.int().min(0).max(1_000_000).default(32),
});

export type EmbeddedEngineOptions = z.input<typeof embeddedEngineOptionsSchema>;
export type ResolvedEmbeddedEngineOptions = z.output<typeof embeddedEngineOptionsSchema>;
export type EmbeddedModelSpec = z.output<typeof embeddedModelSchema>;
