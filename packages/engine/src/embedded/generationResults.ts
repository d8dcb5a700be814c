import type { GenerationInfo } from "../InferenceEngine.js";
import { chatCompletion, type ResponseIdentity, textCompletion, usageOf } from "../openai/build.js";
import { chatLogprobs, completionLogprobs } from "../openai/logprobs.js";
import type { ChatCompletion, TextCompletion } from "../openai/responses.js";
import { type CallId, chatAnswer } from "../structured/chatAnswer.js";
import { toolCallIds } from "../structured/toolCallText.js";
import type { PreparedGeneration } from "./EmbeddedEngine.js";
import type { GenerationOutcome } from "./generate.js";

/** The chat completion a generation stands for: its text or tool calls, finish reason, usage and logprobs. */
export function chatResponse(
  identity: ResponseIdentity,
  prepared: PreparedGeneration,
  outcome: GenerationOutcome,
): ChatCompletion {
  const { message, finishReason } = chatAnswer(
    outcome.text,
    outcome.finishReason,
    prepared.output,
    callIdsOf(prepared),
    prepared.loaded.prompts.dialect,
  );
  const usage = usageOf(outcome.promptTokens.length, outcome.completionTokens.length);
  const logprobs = outcome.logprobs && chatLogprobs(outcome.logprobs, prepared.loaded.tokenText);
  return chatCompletion(identity, message, finishReason, usage, logprobs);
}

/** The text completion a generation stands for. */
export function textResponse(
  identity: ResponseIdentity,
  prepared: PreparedGeneration,
  outcome: GenerationOutcome,
): TextCompletion {
  const usage = usageOf(outcome.promptTokens.length, outcome.completionTokens.length);
  const logprobs = outcome.logprobs && completionLogprobs(outcome.logprobs, prepared.loaded.tokenText);
  return textCompletion(identity, outcome.text, outcome.finishReason, usage, logprobs);
}

/** Tool call ids of the answer to a request: derived from its body, so every verifier writes the same. */
export function callIdsOf(prepared: PreparedGeneration): CallId {
  return toolCallIds(prepared.body);
}

/** How tokens read in logprobs, when the request asked for them. */
export function logprobsText(prepared: PreparedGeneration) {
  return prepared.topLogprobs === undefined ? undefined : prepared.loaded.tokenText;
}

/** What a verifier needs to recompute a generation. */
export function generationInfo(prepared: PreparedGeneration, outcome: GenerationOutcome): GenerationInfo {
  return {
    sampling: prepared.sampling,
    maxTokens: prepared.maxTokens,
    promptTokenIds: outcome.promptTokens,
    completionTokenIds: outcome.completionTokens,
  };
}
