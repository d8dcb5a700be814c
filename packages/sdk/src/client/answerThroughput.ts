type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null;
const utf8 = new TextEncoder();
const bytesOf = (value: unknown) => (typeof value === "string" ? utf8.encode(value).length : 0);

/** Bytes of what the answer generated: each choice's text, its message's content and tool calls. */
function generatedBytes(response: Json): number {
  let bytes = 0;
  for (const choice of Array.isArray(response.choices) ? response.choices : []) {
    if (!isRecord(choice)) continue;
    bytes += bytesOf(choice.text);
    const message = choice.message;
    if (!isRecord(message)) continue;
    bytes += bytesOf(message.content);
    for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
      const fn = isRecord(call) ? call.function : undefined;
      if (isRecord(fn)) bytes += bytesOf(fn.name) + bytesOf(fn.arguments);
    }
  }
  return bytes;
}

/**
 * The output tokens a verified answer shows: its usage's `completion_tokens`, but never more than the bytes it
 * generated (every output token decodes to at least one byte), so that tokens a node claims and did not answer do
 * not raise its figure; 0 when it has no such count (an embedding, a malformed usage).
 */
export function answerTokens(response: unknown): number {
  if (!isRecord(response) || !isRecord(response.usage)) return 0;
  const claimed = response.usage.completion_tokens;
  if (typeof claimed !== "number" || !Number.isSafeInteger(claimed) || claimed < 0) return 0;
  return Math.min(claimed, generatedBytes(response));
}

/**
 * Tokens per second of a verified answer (`answerTokens`) over `elapsedMs`, the time from sending its request to the
 * answer's end; undefined when there is nothing to measure.
 */
export function answerTokensPerSecond(response: unknown, elapsedMs: number): number | undefined {
  const tokens = answerTokens(response);
  if (tokens === 0 || !(elapsedMs > 0)) return undefined;
  return tokens / (elapsedMs / 1000);
}
