import { randomBytes } from "node:crypto";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  FinishReason,
  TextCompletion,
  TextCompletionChunk,
  Usage,
} from "./responses.js";

/** Identity of one response: its id and creation time (neither is part of the response hash). */
export interface ResponseIdentity {
  id: string;
  created: number;
  model: string;
}

export function newIdentity(prefix: "chatcmpl" | "cmpl", model: string): ResponseIdentity {
  return {
    id: `${prefix}-${randomBytes(12).toString("hex")}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

export function chatCompletion(
  identity: ResponseIdentity,
  content: string,
  finishReason: FinishReason,
  usage: Usage,
): ChatCompletion {
  return {
    ...identity,
    object: "chat.completion",
    choices: [
      { index: 0, message: { role: "assistant", content }, finish_reason: finishReason, logprobs: null },
    ],
    usage,
  };
}

export function chatChunk(
  identity: ResponseIdentity,
  delta: ChatCompletionChunk["choices"][number]["delta"],
  finishReason: FinishReason | null = null,
): ChatCompletionChunk {
  return {
    ...identity,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

export function chatUsageChunk(identity: ResponseIdentity, usage: Usage): ChatCompletionChunk {
  return { ...identity, object: "chat.completion.chunk", choices: [], usage };
}

export function textCompletion(
  identity: ResponseIdentity,
  text: string,
  finishReason: FinishReason,
  usage: Usage,
): TextCompletion {
  return {
    ...identity,
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }],
    usage,
  };
}

export function textChunk(
  identity: ResponseIdentity,
  text: string,
  finishReason: FinishReason | null = null,
): TextCompletionChunk {
  return {
    ...identity,
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }],
  };
}

export function textUsageChunk(identity: ResponseIdentity, usage: Usage): TextCompletionChunk {
  return { ...identity, object: "text_completion", choices: [], usage };
}
