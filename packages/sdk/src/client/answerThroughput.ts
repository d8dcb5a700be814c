type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null;
const utf8 = new TextEncoder();
const bytesOf = (value: unknown) => (typeof value === "string" ? utf8.encode(value).length : 0);

/** Bytes of what the answer generated: each choice's text, its message's content and tool calls. */
export function generatedBytes(response: Json): number {
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
 * Bytes of answer per second of a verified answer over `elapsedMs`, the time from sending its request (its first try)
 * to the answer's end; undefined when there is nothing to measure (no generated content: an embedding). Bytes of
 * content, not the usage's `completion_tokens`: that count is the node's word, and a node could raise it (or leave
 * it out on its slow answers), while the content is what it had to generate and send.
 */
export function answerBytesPerSecond(response: unknown, elapsedMs: number): number | undefined {
  const bytes = isRecord(response) ? generatedBytes(response) : 0;
  if (bytes === 0 || !(elapsedMs > 0)) return undefined;
  return bytes / (elapsedMs / 1000);
}
