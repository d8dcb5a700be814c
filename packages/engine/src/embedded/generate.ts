import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { ContextLengthExceededError, RequestAbortedError } from "../errors.js";
import type { FinishReason } from "../openai/responses.js";
import type { SamplingSettings } from "../sampling.js";
import type { Detokenize } from "./detokenizer.js";
import { TextAssembler } from "./TextAssembler.js";

export interface GenerationOutcome {
  text: string;
  finishReason: FinishReason;
  promptTokens: number[];
  /** Every generated token, a final end-of-generation token included. */
  completionTokens: number[];
}

/**
 * Runs one completion on a context sequence: evaluates the prompt from an empty state, then samples one token per
 * step with the request's settings until an end-of-generation token, a stop sequence or `maxTokens`. Yields each
 * text delta, as `toChunk` shapes it, once it is final (nothing without `toChunk`); returns the whole outcome. Aborting the signal ends it with RequestAbortedError
 * (carrying the tokens done so far).
 */
export async function* generate<Chunk>(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  detokenize: Detokenize,
  promptTokens: readonly number[],
  sampling: SamplingSettings,
  maxTokens: number,
  signal: AbortSignal | undefined,
  toChunk: ((delta: string) => Chunk) | undefined,
): AsyncGenerator<Chunk, GenerationOutcome, undefined> {
  const completionTokens: number[] = [];
  const aborted = () =>
    new RequestAbortedError({
      prompt_tokens: promptTokens.length,
      completion_tokens: completionTokens.length,
    });
  if (signal?.aborted) throw aborted();
  await sequence.clearHistory();
  const assembler = new TextAssembler(detokenize, sampling.stop);
  let finishReason: FinishReason = "length";
  const tokens = sequence.evaluate(promptTokens as Token[], {
    temperature: sampling.temperature,
    topK: sampling.topK,
    topP: sampling.topP,
    minP: sampling.minP,
    seed: sampling.seed,
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
  let pending = tokens.next();
  try {
    for (;;) {
      const step = await pending;
      if (step.done) break;
      const token = step.value;
      if (signal?.aborted) throw aborted();
      completionTokens.push(token);
      if (!sampling.ignoreEos && model.isEogToken(token)) {
        finishReason = "stop";
        break;
      }
      const { delta, stopped } = assembler.push(token);
      if (stopped) finishReason = "stop";
      const more = !stopped && completionTokens.length < maxTokens;
      if (more) pending = tokens.next();
      if (delta && toChunk) yield toChunk(delta);
      if (!more) break;
    }
  } finally {
    await tokens.return();
  }
  if (signal?.aborted) throw aborted();
  const tail = assembler.finish();
  if (tail.delta && toChunk) yield toChunk(tail.delta);
  if (tail.stopped) finishReason = "stop";
  return { text: assembler.text, finishReason, promptTokens: [...promptTokens], completionTokens };
}
