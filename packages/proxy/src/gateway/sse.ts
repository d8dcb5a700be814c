import type { UpstreamAnswer } from "./upstream.js";

const encoder = new TextEncoder();

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
} as const;

/** One server-sent event carrying JSON, or the literal `[DONE]`. */
export function sseEvent(data: unknown): Uint8Array {
  return encoder.encode(`data: ${data === "[DONE]" ? data : JSON.stringify(data)}\n\n`);
}

/** The stream's last event before `[DONE]`, as the node sends it: no choices, the usage, its `atoma` object. */
export function finalChunk(answer: UpstreamAnswer): Record<string, unknown> {
  const { response } = answer;
  return {
    id: response.id,
    object: response.object === "chat.completion" ? "chat.completion.chunk" : response.object,
    created: response.created,
    model: response.model,
    choices: [],
    usage: response.usage,
    atoma: answer.atoma,
    ...signedRequestOf(answer),
  };
}

/**
 * `{ atoma_request }`: the body the gateway signed for the client (its `max_tokens` added, `provider` removed), so
 * that the client can check the receipt's request hash against it and it against its own body.
 */
export function signedRequestOf(answer: UpstreamAnswer): { atoma_request?: Record<string, unknown> } {
  return answer.request ? { atoma_request: answer.request } : {};
}
