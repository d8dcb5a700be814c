import { AtomaError, deriveSeed, requestHash } from "@atoma/core";
import { InvalidRequestError } from "./errors.js";
import type { ChatRequest, CompletionRequest } from "./openai/requests.js";

/**
 * What the engine applies when a request leaves a sampling field out. These values are part of the
 * recomputation contract: an attester fills in the same ones. temperature 1 and top_p 1 are OpenAI's documented
 * defaults; top_k 40 is llama.cpp's (and node-llama-cpp's) default: it cuts the long tail of the vocabulary, and
 * lets a verifier score a completion from the top 56 logits of each step instead of all of them. min_p is off.
 * A request sends top_k 0 (or -1) for the whole vocabulary.
 */
export const SAMPLING_DEFAULTS = Object.freeze({ temperature: 1, topP: 1, topK: 40, minP: 0 });

/** OpenAI's default `max_tokens` for text completions; chat completions default to the rest of the context. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

/** llama.cpp reads this seed as "pick a random one", so it is never passed on. */
const LLAMA_RANDOM_SEED = 0xffff_ffff;

/** Every setting that decides which tokens a request produces. */
export interface SamplingSettings {
  /** 0 = greedy (the most likely token every step). */
  temperature: number;
  topP: number;
  /** 0 = the whole vocabulary. */
  topK: number;
  minP: number;
  /** The sampler seed: the request's, or derived from its hash. */
  seed: number;
  /** The request's token limit, if it set one (else the default applies once the prompt is known). */
  maxTokens: number | undefined;
  stop: string[];
  /** Keep generating past end-of-generation tokens (vLLM's `ignore_eos`). */
  ignoreEos: boolean;
}

/**
 * The sampling settings of a request. `body` is the request exactly as the client sent it (its hash seeds the
 * sampler when it names no seed); `request` is the parsed form of the same body.
 */
export function resolveSampling(
  body: unknown,
  request: ChatRequest | CompletionRequest,
  kind: "chat" | "completion",
): SamplingSettings {
  let seed = request.seed ?? deriveSeed(bodyHash(body));
  if (seed === LLAMA_RANDOM_SEED) seed -= 1;
  const maxTokens =
    kind === "chat"
      ? ((request as ChatRequest).max_completion_tokens ?? request.max_tokens ?? undefined)
      : (request.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS);
  const stop = request.stop == null ? [] : typeof request.stop === "string" ? [request.stop] : request.stop;
  return {
    temperature: request.temperature ?? SAMPLING_DEFAULTS.temperature,
    topP: request.top_p ?? SAMPLING_DEFAULTS.topP,
    topK: Math.max(0, request.top_k ?? SAMPLING_DEFAULTS.topK),
    minP: request.min_p ?? SAMPLING_DEFAULTS.minP,
    seed,
    maxTokens,
    stop: [...stop],
    ignoreEos: request.ignore_eos ?? false,
  };
}

/** The request hash of a body as the client sent it; InvalidRequestError for a body canonical JSON cannot carry. */
export function bodyHash(body: unknown) {
  try {
    return requestHash(body);
  } catch (error) {
    if (error instanceof AtomaError)
      throw new InvalidRequestError(`request body is not canonical JSON: ${error.shortMessage}`);
    throw error;
  }
}
