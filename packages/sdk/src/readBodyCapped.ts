import { AnswerTooLargeError } from "./errors.js";

/**
 * The body of `answer` as text, refusing (`AnswerTooLargeError`, the body cancelled) one whose declared length or
 * actual bytes pass `maxBytes`: a node's answer is read into memory only up to a bound.
 */
export async function readBodyCapped(answer: Response, maxBytes: number, what = "answer"): Promise<string> {
  const declared = Number(answer.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await answer.body?.cancel().catch(() => undefined);
    throw new AnswerTooLargeError(what, maxBytes);
  }
  if (!answer.body) return "";
  const reader = answer.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new AnswerTooLargeError(what, maxBytes);
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  } finally {
    reader.releaseLock();
  }
}

/** The body of `answer` parsed as JSON, read up to `maxBytes` (see `readBodyCapped`). */
export async function readJsonCapped(answer: Response, maxBytes: number, what = "answer"): Promise<unknown> {
  return JSON.parse(await readBodyCapped(answer, maxBytes, what));
}
