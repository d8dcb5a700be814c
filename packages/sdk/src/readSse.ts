import { AnswerTooLargeError } from "./errors.js";

/** Bounds on what `readSse` buffers of a node's stream. */
export interface SseLimits {
  /** The longest one event may be (UTF-16 code units, about bytes). @default 1 MiB */
  maxEventBytes?: number | undefined;
  /** The most bytes the whole stream may carry. @default 256 MiB */
  maxTotalBytes?: number | undefined;
}

export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
export const DEFAULT_MAX_STREAM_BYTES = 256 * 1024 * 1024;

function eventData(event: string): string {
  return event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
}

/**
 * The JSON payloads of a server-sent event stream, until `[DONE]` or its end. An event longer than
 * `maxEventBytes`, or a stream past `maxTotalBytes`, ends reading with `AnswerTooLargeError` (the stream is
 * cancelled): a node cannot grow the reader's memory without bound. Each read scans only the text it added.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  limits: SseLimits = {},
): AsyncGenerator<unknown, void, undefined> {
  const maxEvent = limits.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const maxTotal = limits.maxTotalBytes ?? DEFAULT_MAX_STREAM_BYTES;
  const decoder = new TextDecoder();
  let buffer = "";
  let total = 0;
  let failed = true;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxTotal) throw new AnswerTooLargeError("stream", maxTotal);
      // An event boundary may straddle the old and new text: scan from one character back.
      let from = Math.max(0, buffer.length - 1);
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let end = buffer.indexOf("\n\n", from); end >= 0; end = buffer.indexOf("\n\n", from)) {
        if (end - start > maxEvent) throw new AnswerTooLargeError("stream event", maxEvent);
        const data = eventData(buffer.slice(start, end));
        start = end + 2;
        from = start;
        if (data === "[DONE]") {
          failed = false;
          return;
        }
        if (data !== "") yield JSON.parse(data);
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxEvent) throw new AnswerTooLargeError("stream event", maxEvent);
    }
    failed = false;
  } finally {
    if (failed) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
