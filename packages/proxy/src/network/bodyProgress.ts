/** Reports, for each chunk of a body, whether it carries part of the answer (not padding a node could stall with). */
type ProgressScanner = (chunk: Uint8Array) => boolean;

const COLON = 0x3a;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** An event stream's progress is a field line (`data:`, `event:`, …): comment lines (`: ping`) and blank ones are not. */
function eventStreamScanner(): ProgressScanner {
  let lineStart = true;
  let comment = false;
  return (chunk) => {
    let progress = false;
    for (const byte of chunk) {
      if (comment) {
        if (byte === LF || byte === CR) {
          comment = false;
          lineStart = true;
        }
      } else if (lineStart) {
        if (byte === COLON) comment = true;
        else if (byte !== LF && byte !== CR) {
          lineStart = false;
          progress = true;
        }
      } else if (byte === LF || byte === CR) lineStart = true;
      else progress = true;
    }
    return progress;
  };
}

/** Any other body's progress is a byte other than whitespace (JSON may be padded with as much as a node likes). */
const byteScanner: ProgressScanner = (chunk) =>
  chunk.some((byte) => byte !== SPACE && byte !== LF && byte !== CR && byte !== TAB);

/**
 * The answer with its body watched: `onProgress` for each chunk carrying part of the answer (an event, a JSON byte),
 * `onEnd` once when the body ends, fails or is cancelled. With it the first-byte timer runs to the first part of the
 * answer, not to the headers, which a node can send at once and then stall (review of issue 12, MEDIUM-1).
 */
export function watchBodyProgress(answer: Response, onProgress: () => void, onEnd: () => void): Response {
  const source = answer.body;
  if (source === null) {
    onEnd();
    return answer;
  }
  const scan = answer.headers.get("content-type")?.includes("text/event-stream")
    ? eventStreamScanner()
    : byteScanner;
  const reader = source.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
          return;
        }
        if (scan(value)) onProgress();
        controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
}
