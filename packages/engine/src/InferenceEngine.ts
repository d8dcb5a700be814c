import type { EngineStream } from "./EngineStream.js";
import type { EngineFingerprint } from "./fingerprint/fingerprint.js";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  EmbeddingResponse,
  ModelCard,
  TextCompletion,
  TextCompletionChunk,
  TokenizeResult,
} from "./openai/responses.js";
import type { GenerationKind, PreparedRequest } from "./PreparedRequest.js";
import type { SamplingSettings } from "./sampling.js";

export interface CallOptions {
  /** Cancels the request: it leaves the queue, or generation stops at the next token. */
  signal?: AbortSignal | undefined;
}

/** How a completion was produced: what a verifier needs to recompute it. */
export interface GenerationInfo {
  /** Sampling settings after defaults (the seed derived from the request hash when it named none). */
  sampling: SamplingSettings;
  /** The token limit that applied (a remote engine knows it only when the request set one). */
  maxTokens: number | undefined;
  /** Token ids, where the engine knows them (the embedded engine always does). */
  promptTokenIds?: number[] | undefined;
  /** Generated token ids, including a final end-of-generation token when one ended the completion. */
  completionTokenIds?: number[] | undefined;
}

export interface ChatResult {
  response: ChatCompletion;
  generation: GenerationInfo;
}

export interface CompletionResult {
  response: TextCompletion;
  generation: GenerationInfo;
}

/** Requests running and waiting, per model and in total: what a router balances on. */
export interface EngineLoad {
  running: number;
  waiting: number;
  /** Requests that can run at once (context sequences, or an upstream's reported capacity when known). */
  capacity: number;
}

export interface EngineHealth {
  ok: boolean;
  models: string[];
  load: EngineLoad;
  /** Why the engine is unhealthy, when it is. */
  reason?: string | undefined;
}

/**
 * Every source of tokens, embedded or remote, behind one interface. Request bodies are OpenAI's (plus vLLM's
 * top_k, min_p and ignore_eos); they are validated here, so a caller may pass a client's body unchanged (its
 * hash seeds sampling when it names no seed). `chat`, `complete` and their streaming forms also take what this
 * engine's `prepare` made of a body, with the same output: a caller that bounds a request by its prompt tokens
 * then parses and tokenizes it once. Every method throws named errors: InvalidRequestError,
 * UnsupportedParameterError, ModelNotFoundError, ContextLengthExceededError, EngineBusyError,
 * RequestAbortedError, EngineStoppedError (and UpstreamError for remote engines).
 */
export interface InferenceEngine {
  readonly kind: "embedded" | "remote";
  start(): Promise<void>;
  stop(): Promise<void>;
  models(): Promise<ModelCard[]>;

  /** Validates a chat or completion body, resolves its sampling and tokenizes its prompt (no length check yet). */
  prepare(body: unknown, kind: GenerationKind, options?: CallOptions): Promise<PreparedRequest>;

  chat(body: unknown, options?: CallOptions): Promise<ChatResult>;
  /** Resolves once the request is validated and queued (so "busy" is known before any byte is sent). */
  streamChat(body: unknown, options?: CallOptions): Promise<EngineStream<ChatCompletionChunk, ChatResult>>;
  complete(body: unknown, options?: CallOptions): Promise<CompletionResult>;
  streamComplete(
    body: unknown,
    options?: CallOptions,
  ): Promise<EngineStream<TextCompletionChunk, CompletionResult>>;
  embed(body: unknown, options?: CallOptions): Promise<EmbeddingResponse>;
  /** Token ids of a prompt or of a chat rendered through the model's template (vLLM's /tokenize). */
  tokenize(body: unknown, options?: CallOptions): Promise<TokenizeResult>;

  health(): Promise<EngineHealth>;
  load(): Promise<EngineLoad>;
  /**
   * The engine's numeric identity (see `fingerprint/`). Absent where it cannot be measured: a remote engine's
   * numerics live in a server that cannot run the probe model.
   */
  fingerprint?(): Promise<EngineFingerprint>;
}
