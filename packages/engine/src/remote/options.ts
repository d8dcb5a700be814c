import { z } from "zod";

export const upstreamSchema = z.object({
  /** Root URL of an OpenAI-compatible server (vLLM, SGLang, llama.cpp server): the API is under `/v1`. */
  url: z.url({ protocol: /^https?$/ }),
  /** Sent as a bearer token. Never logged. */
  apiKey: z.string().min(1).optional(),
  /** Model ids it serves; learned from its `/v1/models` when left out. */
  models: z.array(z.string().min(1)).optional(),
  /** Requests sent to it at once; past this it is skipped, and with every upstream full the engine is busy. @default 16 */
  maxConcurrent: z.int().min(1).max(100_000).default(16),
});

export const remoteEngineOptionsSchema = z.object({
  upstreams: z.array(upstreamSchema).min(1),
  /** How often health and load are read from each upstream. @default 5000 */
  refreshIntervalMs: z.int().min(10).max(3_600_000).default(5000),
  /** Limit on each health, metrics or models request. @default 2000 */
  probeTimeoutMs: z.int().min(10).max(60_000).default(2000),
});

export type RemoteEngineOptions = z.input<typeof remoteEngineOptionsSchema>;
export type ResolvedRemoteEngineOptions = z.output<typeof remoteEngineOptionsSchema>;
export type UpstreamSpec = z.output<typeof upstreamSchema>;
