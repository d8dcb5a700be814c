import { randomBytes } from "node:crypto";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatLogprobs,
  ChatMessageOut,
  CompletionLogprobs,
  FinishReason,
  TextCompletion,
  TextCompletionChunk,
  TextFinishReason,
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
  message: ChatMessageOut,
  finishReason: FinishReason,
  usage: Usage,
  logprobs: ChatLogprobs | null = null,
): ChatCompletion {
  return {
    ...identity,
    object: "chat.completion",
    choices: [{ index: 0, message, finish_reason: finishReason, logprobs }],
    usage,
  };
}

export function chatChunk(
  identity: ResponseIdentity,
  delta: ChatCompletionChunk["choices"][number]["delta"],
  finishReason: FinishReason | null = null,
  logprobs: ChatLogprobs | null = null,
): ChatCompletionChunk {
  return {
    ...identity,
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs }],
  };
}

export function chatUsageChunk(identity: ResponseIdentity, usage: Usage): ChatCompletionChunk {
  return { ...identity, object: "chat.completion.chunk", choices: [], usage };
}

export function textCompletion(
  identity: ResponseIdentity,
  text: string,
  finishReason: TextFinishReason,
  usage: Usage,
  logprobs: CompletionLogprobs | null = null,
): TextCompletion {
  return {
    ...identity,
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs }],
    usage,
  };
}

export function textChunk(
  identity: ResponseIdentity,
  text: string,
  finishReason: TextFinishReason | null = null,
  logprobs: CompletionLogprobs | null = null,
): TextCompletionChunk {
  return {
    ...identity,
    object: "text_completion",
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs }],
  };
}

export function textUsageChunk(identity: ResponseIdentity, usage: Usage): TextCompletionChunk {
  return { ...identity, object: "text_completion", choices: [], usage };
}
