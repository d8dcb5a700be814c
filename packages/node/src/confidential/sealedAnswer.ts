import {
  type HexString,
  type ResponseSealer,
  SEALED_ANSWER_OBJECT,
  SEALED_CHUNK_OBJECT,
  SEALED_END_OBJECT,
  type SealedAnswer,
  toHex,
} from "@atoma/confidential";
import type { Answer } from "../api/leafInput.js";

const encoder = new TextEncoder();

const sealJson = (sealer: ResponseSealer, value: unknown, final: boolean): HexString =>
  toHex(sealer.seal(encoder.encode(JSON.stringify(value)), final));

/** A non-streamed answer sealed as one final chunk: what the leaf records and the client receives. */
export function sealWholeAnswer(sealer: ResponseSealer, response: Answer): SealedAnswer & Answer {
  return {
    object: SEALED_ANSWER_OBJECT,
    chunks: [sealJson(sealer, response, true)],
    usage: { ...response.usage },
  };
}

/** The SSE event payload of one sealed stream chunk. */
export const sealedChunkEvent = (sealed: HexString) => ({ object: SEALED_CHUNK_OBJECT, sealed });

/**
 * A streamed answer as it is sealed: each engine chunk in turn, then a final chunk with the usage; the chunks
 * sent make the `SealedAnswer` the leaf records.
 */
export class SealedStream {
  readonly #sealer: ResponseSealer;
  readonly #chunks: HexString[] = [];

  constructor(sealer: ResponseSealer) {
    this.#sealer = sealer;
  }

  chunk(value: unknown): HexString {
    const sealed = sealJson(this.#sealer, value, false);
    this.#chunks.push(sealed);
    return sealed;
  }

  end(usage: Answer["usage"]): { sealed: HexString; answer: SealedAnswer & Answer } {
    const sealed = sealJson(this.#sealer, { object: SEALED_END_OBJECT, usage }, true);
    this.#chunks.push(sealed);
    return {
      sealed,
      answer: { object: SEALED_ANSWER_OBJECT, chunks: [...this.#chunks], usage: { ...usage } },
    };
  }
}

/** True for a stored leaf response that is a sealed answer. */
export const isSealedAnswer = (response: Record<string, unknown>): boolean =>
  response.object === SEALED_ANSWER_OBJECT;
