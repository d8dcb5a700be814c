import { AtomaError, canonicalJson } from "@atoma/core";
import { StreamAssembler } from "../assembleStream.js";
import { NodeRequestError } from "../errors.js";
import { readJsonCapped } from "../readBodyCapped.js";
import { readSse, type SseLimits } from "../readSse.js";
import type { AnswerRead } from "../StackClient.js";
import { SealedAnswerError } from "./attestationVerdict.js";
import type { ConfidentialModule } from "./loadConfidential.js";

type Body = Record<string, unknown>;
type Reader = Awaited<ReturnType<ConfidentialModule["sealConfidentialRequest"]>>["reader"];

const isRecord = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A failure of the opener (`stream_chunk_out_of_order`, ...) as a `SealedAnswerError` naming it. */
function opening<T>(open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (error instanceof SealedAnswerError) throw error;
    const failure = error instanceof AtomaError ? error.code : "sealed_chunk_invalid";
    const message = error instanceof Error ? error.message : String(error);
    throw new SealedAnswerError(failure, `the sealed answer does not open: ${message}`, { cause: error });
  }
}

const inClear = () =>
  new SealedAnswerError("answer_in_clear", "the node answered a sealed request with something not sealed");

/** What the client opened: the OpenAI response in clear (set once the answer is read). */
export interface Opened {
  response?: Body;
}

/**
 * Reads a non-streamed sealed answer (`{ object: "atoma.confidential.answer", chunks, usage, atoma }`): opens its
 * one final chunk into `opened.response`, and returns the sealed answer the receipt's hash covers.
 */
export function readSealedJson(
  reader: () => Reader,
  opened: Opened,
  maxBytes: number,
  object: string,
): AnswerRead {
  return async (answer) => {
    const body = await readJsonCapped(answer, maxBytes);
    if (!isRecord(body)) throw inClear();
    const { atoma, ...rest } = body;
    if (rest.object !== object) throw inClear();
    const { response, sealed } = opening(() => reader().openAnswer(rest));
    if (!isRecord(response)) throw new SealedAnswerError("answer_malformed", "the opened answer is not JSON");
    opened.response = response;
    return { response: sealed as unknown as Body, atoma };
  };
}

export interface SealedStreamNames {
  answer: string;
  chunk: string;
  end: string;
}

/**
 * Reads a sealed stream: one `{ object: "atoma.confidential.chunk", sealed }` event per engine chunk, opened in
 * order (a dropped, reordered, repeated or changed chunk throws `SealedAnswerError`), each shown to `onChunk`; the
 * final sealed chunk with the usage; then, in clear, the usage and the receipt. A resend after a broken connection
 * replays the chunks from the start: those already opened must come back byte for byte, and are not shown twice.
 */
export function readSealedStream(
  reader: () => Reader,
  opened: Opened,
  names: SealedStreamNames,
  limits: SseLimits | undefined,
  onChunk?: (chunk: Body) => void,
): AnswerRead {
  const seen: string[] = [];
  const assembler = new StreamAssembler();
  let sealedUsage: unknown;
  return async (answer) => {
    if (!answer.body) throw inClear();
    let index = 0;
    let atoma: unknown;
    let usage: unknown;
    for await (const event of readSse(answer.body, limits)) {
      if (!isRecord(event)) throw inClear();
      if (event.error) throw new NodeRequestError(200, event.error as never);
      if (event.object === names.answer && event.atoma !== undefined) {
        atoma = event.atoma;
        usage = event.usage;
        continue;
      }
      if (event.object !== names.chunk || typeof event.sealed !== "string") throw inClear();
      const sealed = event.sealed.toLowerCase();
      if (index < seen.length) {
        if (seen[index] !== sealed)
          throw new SealedAnswerError(
            "resend_differs",
            `chunk ${index} differs from the one received before`,
          );
        index++;
        continue;
      }
      const plain = opening(() => reader().openChunk(sealed));
      seen.push(sealed);
      index++;
      if (!isRecord(plain)) throw new SealedAnswerError("answer_malformed", "an opened chunk is not JSON");
      if (plain.object === names.end) sealedUsage = plain.usage;
      else onChunk?.(assembler.add(plain));
    }
    if (atoma === undefined) {
      // A stream that ended before its final sealed chunk is cut (`stream_truncated`); after it, the receipt is missing.
      opening(() => reader().finish({ prompt_tokens: 0 }));
      return { response: {}, atoma };
    }
    if (!isRecord(usage) || !isRecord(sealedUsage) || canonicalJson(usage) !== canonicalJson(sealedUsage))
      throw new SealedAnswerError(
        "usage_mismatch",
        "the usage in clear is not the one sealed with the answer",
      );
    const sealed = opening(() => reader().finish(usage as never));
    opened.response = { ...assembler.response(), usage };
    return { response: sealed as unknown as Body, atoma };
  };
}
