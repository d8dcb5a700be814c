import type { ChatRequest, CompletionRequest } from "./openai/requests.js";
import type { SamplingSettings } from "./sampling.js";

export type GenerationKind = "chat" | "completion";

/**
 * A chat or completion body checked, its sampling resolved and its prompt tokenized, once: what a caller bounds a
 * request's cost on, and what the engine that made it then generates from (passed to `chat`, `complete` or their
 * streaming forms in place of the body) without parsing or tokenizing it again. The output is the body's.
 */
export interface PreparedRequest {
  readonly kind: GenerationKind;
  /** The body as the client sent it (its hash seeds the sampler when it names no seed). */
  readonly body: unknown;
  readonly request: ChatRequest | CompletionRequest;
  readonly sampling: SamplingSettings;
  /** The prompt's token ids (a remote engine's are its upstream's `/tokenize`). */
  readonly promptTokens: readonly number[];
  /** How many tokens the prompt counts as (a remote engine's are its upstream's count). */
  readonly promptTokenCount: number;
  /** Tokens one request may hold (0 where an upstream does not say). */
  readonly maxModelLen: number;
}

/** Which engine prepared each request: only that engine generates from it as prepared. */
const preparedBy = new WeakMap<PreparedRequest, object>();

/** Records `prepared` as `engine`'s. */
export function issuePrepared<T extends PreparedRequest>(engine: object, prepared: T): T {
  preparedBy.set(prepared, engine);
  return prepared;
}

/**
 * `input` as is when `engine` prepared it for generation of this kind; otherwise what `prepare` makes of the body
 * (a client's, or that of a request prepared elsewhere).
 */
export function preparedOr<T>(
  engine: object,
  input: unknown,
  kind: GenerationKind,
  prepare: (body: unknown) => T,
): PreparedRequest | T {
  if (typeof input !== "object" || input === null) return prepare(input);
  const prepared = input as PreparedRequest;
  const by = preparedBy.get(prepared);
  if (by === engine && prepared.kind === kind) return prepared;
  return prepare(by === undefined ? input : prepared.body);
}
