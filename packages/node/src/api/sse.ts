import type { AtomaReceipt } from "@atoma/core";

const encoder = new TextEncoder();

/** One server-sent event carrying JSON (or the literal `[DONE]`). */
export function sseEvent(data: unknown): Uint8Array {
  return encoder.encode(`data: ${data === "[DONE]" ? data : JSON.stringify(data)}\n\n`);
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
} as const;

type Json = Record<string, unknown>;

const chunkObject = (response: Json) =>
  response.object === "chat.completion" ? "chat.completion.chunk" : String(response.object);

/**
 * The stream's last event before `[DONE]`: no choices, the usage, and the `atoma` object (signed over the
 * complete response the earlier chunks add up to).
 */
export function finalChunk(response: Json, atoma: AtomaReceipt): Json {
  return {
    id: response.id,
    object: chunkObject(response),
    created: response.created,
    model: response.model,
    choices: [],
    usage: response.usage,
    atoma,
  };
}

/** An engine's `stream_options.include_usage` chunk: no choices, only the usage. */
export function isUsageOnly(chunk: unknown): boolean {
  const { choices, usage } = chunk as Json;
  return Array.isArray(choices) && choices.length === 0 && usage != null;
}

/**
 * A stored complete response replayed as one chunk (a resend of a streamed request), its logprobs included (the
 * response hash covers them).
 */
export function storedAsChunk(response: Json): Json {
  const choices = Array.isArray(response.choices) ? (response.choices as Json[]) : [];
  return {
    id: response.id,
    object: chunkObject(response),
    created: response.created,
    model: response.model,
    choices: choices.map((choice) =>
      response.object === "chat.completion"
        ? {
            index: choice.index,
            delta: storedDelta(choice.message as Json | undefined),
            finish_reason: choice.finish_reason,
            logprobs: choice.logprobs ?? null,
          }
        : {
            index: choice.index,
            text: choice.text,
            finish_reason: choice.finish_reason,
            logprobs: choice.logprobs ?? null,
          },
    ),
  };
}

/** A stored chat message as one delta: its text, and its tool calls with their stream indices. */
function storedDelta(message: Json | undefined): Json {
  const calls = message?.tool_calls;
  return {
    role: "assistant",
    content: message?.content ?? "",
    ...(Array.isArray(calls) && calls.length > 0
      ? { tool_calls: calls.map((call, index) => ({ index, ...(call as Json) })) }
      : {}),
  };
}
