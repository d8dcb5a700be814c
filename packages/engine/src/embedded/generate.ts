import {
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaGrammarEvaluationState,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { ContextLengthExceededError, RequestAbortedError } from "../errors.js";
import type { SamplingSettings } from "../sampling.js";
import type { Detokenize } from "./detokenizer.js";
import { TextAssembler } from "./TextAssembler.js";

/** Why generation ended: an end-of-generation token or a stop sequence, or the token limit. */
export type GenerationEnd = "stop" | "length";

/** A generated token's log-probability under the distribution it was drawn from, and the likeliest alternatives. */
export interface TokenLogprob {
  token: number;
  logprob: number;
  top: { token: number; logprob: number }[];
}

export interface GenerationOutcome {
  text: string;
  finishReason: GenerationEnd;
  promptTokens: number[];
  /** Every generated token, a final end-of-generation token included. */
  completionTokens: number[];
  /** Per generated token but a final end-of-generation one, when the request asked for logprobs. */
  logprobs?: TokenLogprob[] | undefined;
}

/** Text that became final, with the logprobs of the tokens read since the previous delta. */
export interface GeneratedDelta {
  text: string;
  logprobs: readonly TokenLogprob[];
}

/** What one generation runs: the prepared prompt and settings, the output grammar, the logprobs wanted. */
export interface GenerationPlan {
  promptTokens: readonly number[];
  sampling: SamplingSettings;
  maxTokens: number;
  /** Constrains every token (tools, JSON answers); applied before the other samplers. */
  grammar?: LlamaGrammar | undefined;
  /** How many alternatives to report per token; undefined: no logprobs. */
  topLogprobs?: number | undefined;
}

/**
 * Runs one completion on a context sequence: evaluates the prompt from an empty state, then samples one token per
 * step with the request's settings until an end-of-generation token, a stop sequence or `maxTokens`. Yields the
 * chunks `toChunks` makes of each text delta once it is final (nothing without `toChunks`); returns the whole
 * outcome. Aborting the signal ends it with RequestAbortedError (carrying the tokens done so far).
 *
 * A grammar is applied to the whole vocabulary before the other samplers at every step (node-llama-cpp does so
 * when a token's metadata is asked for; otherwise it first samples without the grammar and redraws only when the
 * pick breaks it), so each step draws the seeded random source once, as without a grammar, and a verifier can
 * replicate the step from the logits. Logprobs are those of that distribution (after top-k, top-p, min-p,
 * temperature and the grammar); greedy decoding's are the model's own.
 */
export async function* generate<Chunk>(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  detokenize: Detokenize,
  plan: GenerationPlan,
  signal: AbortSignal | undefined,
  toChunks: ((delta: GeneratedDelta) => Iterable<Chunk>) | undefined,
): AsyncGenerator<Chunk, GenerationOutcome, undefined> {
  const { promptTokens, sampling, maxTokens, grammar, topLogprobs } = plan;
  const completionTokens: number[] = [];
  const logprobs: TokenLogprob[] = [];
  let delivered = 0;
  const delta = (text: string): GeneratedDelta => {
    const read = logprobs.slice(delivered);
    delivered = logprobs.length;
    return { text, logprobs: read };
  };
  const aborted = () =>
    new RequestAbortedError({
      prompt_tokens: promptTokens.length,
      completion_tokens: completionTokens.length,
    });
  if (signal?.aborted) throw aborted();
  await sequence.clearHistory();
  const assembler = new TextAssembler(detokenize, sampling.stop);
  let finishReason: GenerationEnd = "length";
  const metadata: { probabilities?: true; confidence?: true } =
    topLogprobs !== undefined ? { probabilities: true } : grammar ? { confidence: true } : {};
  const steps = sequence.evaluateWithMetadata(promptTokens as Token[], metadata, {
    temperature: sampling.temperature,
    topK: sampling.topK,
    topP: sampling.topP,
    minP: sampling.minP,
    seed: sampling.seed,
    ...(grammar ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar }) } : {}),
    yieldEogToken: true,
    contextShift: {
      // Bounds are checked before generation starts; shifting the context would change the output.
      strategy: () => {
        throw new ContextLengthExceededError(promptTokens.length, maxTokens, sequence.contextSize);
      },
    },
  });
  // The next token is requested before the current delta is handed on, so llama.cpp computes while the
  // consumer (an HTTP response, say) takes its chunk: the stream adds no latency per token.
  let pending = steps.next();
  try {
    for (;;) {
      const step = await pending;
      if (step.done) break;
      const token = step.value.token;
      if (signal?.aborted) throw aborted();
      completionTokens.push(token);
      if (!sampling.ignoreEos && model.isEogToken(token)) {
        finishReason = "stop";
        break;
      }
      if (topLogprobs !== undefined)
        logprobs.push(
          tokenLogprob(
            token,
            (step.value as { probabilities?: Map<Token, number> }).probabilities,
            topLogprobs,
          ),
        );
      const { delta: text, stopped } = assembler.push(token);
      if (stopped) finishReason = "stop";
      const more = !stopped && completionTokens.length < maxTokens;
      if (more) pending = steps.next();
      if (text && toChunks) yield* toChunks(delta(text));
      if (!more) break;
    }
  } finally {
    await steps.return();
  }
  if (signal?.aborted) throw aborted();
  const tail = assembler.finish();
  if (tail.delta && toChunks) yield* toChunks(delta(tail.delta));
  if (tail.stopped) finishReason = "stop";
  return {
    text: assembler.text,
    finishReason,
    promptTokens: [...promptTokens],
    completionTokens,
    logprobs: topLogprobs === undefined ? undefined : logprobs,
  };
}

/**
 * The floor of a reported logprob (OpenAI's own): a token the distribution gave no probability would be -Infinity,
 * which JSON cannot carry and the response hash (which covers logprobs) refuses.
 */
export const MIN_LOGPROB = -9999;

const finiteLogprob = (probability: number) => Math.max(MIN_LOGPROB, Math.log(probability));

/** The token's log-probability and the `top` likeliest of the step's distribution (tokens it excluded left out). */
function tokenLogprob(
  token: number,
  probabilities: Map<Token, number> = new Map(),
  top: number,
): TokenLogprob {
  const alternatives: TokenLogprob["top"] = [];
  for (const [candidate, probability] of probabilities) {
    if (alternatives.length >= top || probability <= 0) break;
    alternatives.push({ token: candidate, logprob: finiteLogprob(probability) });
  }
  return { token, logprob: finiteLogprob(probabilities.get(token as Token) ?? 0), top: alternatives };
}
