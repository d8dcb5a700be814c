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

/**
 * A clear `error` event inside a sealed stream after it opened: an honest node seals every error after opening
 * (`atoma.confidential.error`), so this one is unauthenticated (injected on the path, or by the host outside the
 * TD). Deliberately not an `AtomaError`: the connection is taken as broken and the same signed request resent, never
 * read as the node's word (a code it names would reseal and charge again, or call the stack spent).
 */
export class ClearErrorInSealedStream extends Error {
  override readonly name = "ClearErrorInSealedStream";
  constructor() {
    super("a clear error event inside a sealed stream: taken as a broken connection");
  }
}

/** The usage in clear (what the receipt charges) is the one sealed with the answer. */
const sameUsage = (clear: unknown, sealed: unknown) =>
  isRecord(clear) && isRecord(sealed) && canonicalJson(clear) === canonicalJson(sealed);

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
  let active: Reader | undefined;
  return async (answer) => {
    // A resend after a cut is answered under a new salt: read with a fresh reader of the same request.
    active = active === undefined ? reader() : active.retry();
    const current = active;
    const body = await readJsonCapped(answer, maxBytes);
    if (!isRecord(body)) throw inClear();
    const { atoma, ...rest } = body;
    if (rest.object !== object) throw inClear();
    const { response, sealed } = opening(() => current.openAnswer(rest));
    if (!isRecord(response)) throw new SealedAnswerError("answer_malformed", "the opened answer is not JSON");
    opened.response = response;
    // The usage in clear is what the receipt charges; the one sealed inside the TD is what the answer used.
    return {
      response: sealed as unknown as Body,
      atoma,
      usageMismatch: !sameUsage(rest.usage, response.usage),
    };
  };
}

export interface SealedStreamNames {
  answer: string;
  chunk: string;
  end: string;
  /** An error after the request opened: `{ object, error, sealed }`, the full error sealed as the final chunk. */
  error: string;
}

/**
 * Reads a sealed stream: one `{ object: "atoma.confidential.chunk", sealed }` event per engine chunk, opened in
 * order (a dropped, reordered, repeated or changed chunk throws `SealedAnswerError`), each shown to `onChunk`; the
 * final sealed chunk with the usage; then, in clear, the usage and the receipt. A resend after a broken connection
 * is answered from the start under a new salt: it is read with a fresh reader; the chunks shown before are not shown
 * twice while the new answer repeats them, and where it differs `onRestart` drops them (without it: refused).
 */
export function readSealedStream(
  reader: () => Reader,
  opened: Opened,
  names: SealedStreamNames,
  limits: SseLimits | undefined,
  onChunk?: (chunk: Body) => void,
  onRestart?: () => void,
): AnswerRead {
  let active: Reader | undefined;
  /** The chunks shown so far (canonical JSON): a resend's answer goes on from them only if it starts with them. */
  const shown: string[] = [];
  const show = (chunk: Body) => {
    shown.push(canonicalJson(chunk));
    onChunk?.(chunk);
  };
  return async (answer) => {
    active = active === undefined ? reader() : active.retry();
    const current = active;
    // A resend is answered again under a new salt, possibly another answer (generated again): its first chunks are
    // held while they match what was shown; at the first that differs, the caller drops what it showed (`onRestart`)
    // and sees the new answer from its start, or (with no way to tell it) the answer is refused. Never spliced.
    let held: Body[] = [];
    let diverged = false;
    const diverge = () => {
      if (!onRestart)
        throw new SealedAnswerError(
          "answer_restarted",
          "a resend brought another answer than the chunks shown: refused rather than spliced",
        );
      diverged = true;
      onRestart();
      shown.length = 0;
      for (const chunk of held) show(chunk);
      held = [];
    };
    const assembler = new StreamAssembler();
    let sealedUsage: unknown;
    if (!answer.body) throw inClear();
    let index = 0;
    let atoma: unknown;
    let usage: unknown;
    for await (const event of readSse(answer.body, limits)) {
      if (!isRecord(event)) throw inClear();
      if (event.object === names.error) {
        const opened = opening(() => current.openError(event));
        throw new NodeRequestError(200, opened as never);
      }
      if (event.error) throw new ClearErrorInSealedStream();
      if (event.object === names.answer && event.atoma !== undefined) {
        atoma = event.atoma;
        usage = event.usage;
        continue;
      }
      if (event.object !== names.chunk || typeof event.sealed !== "string") throw inClear();
      const sealed = event.sealed.toLowerCase();
      const plain = opening(() => current.openChunk(sealed));
      if (!isRecord(plain)) throw new SealedAnswerError("answer_malformed", "an opened chunk is not JSON");
      if (plain.object === names.end) sealedUsage = plain.usage;
      else {
        const relayed = assembler.add(plain);
        if (diverged || index >= shown.length) show(relayed);
        else if (canonicalJson(relayed) === shown[index]) held.push(relayed);
        else {
          held.push(relayed);
          diverge();
        }
        index++;
      }
    }
    if (atoma === undefined) {
      // A stream that ended before its final sealed chunk is cut (`stream_truncated`); after it, the receipt is missing.
      opening(() => current.finish({ prompt_tokens: 0 }));
      return { response: {}, atoma };
    }
    if (!isRecord(usage)) throw new SealedAnswerError("usage_mismatch", "the usage in clear is missing");
    const usageMismatch = !sameUsage(usage, sealedUsage);
    const sealed = opening(() => current.finish(usage as never));
    // A new answer shorter than the chunks shown: they were not its own.
    if (!diverged && index < shown.length) diverge();
    opened.response = { ...assembler.response(), usage };
    return { response: sealed as unknown as Body, atoma, usageMismatch };
  };
}
