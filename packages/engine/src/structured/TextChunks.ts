import type { GeneratedDelta, GenerationEnd, TokenLogprob } from "../embedded/generate.js";
import { type ResponseIdentity, textChunk } from "../openai/build.js";
import { completionLogprobs, type TokenText } from "../openai/logprobs.js";
import type { TextCompletionChunk } from "../openai/responses.js";

/** A text completion stream's chunks, each with the logprobs of the tokens read since the last (when asked for). */
export class TextChunks {
  readonly #identity: ResponseIdentity;
  readonly #textOf: TokenText | undefined;
  #logprobs: TokenLogprob[] = [];
  /** Where the next token's text starts. */
  #offset = 0;

  constructor(identity: ResponseIdentity, textOf: TokenText | undefined) {
    this.#identity = identity;
    this.#textOf = textOf;
  }

  push(delta: GeneratedDelta): TextCompletionChunk[] {
    this.#logprobs.push(...delta.logprobs);
    return [textChunk(this.#identity, delta.text, null, this.#takeLogprobs())];
  }

  finish(end: GenerationEnd): TextCompletionChunk {
    return textChunk(this.#identity, "", end, this.#takeLogprobs());
  }

  #takeLogprobs() {
    if (!this.#textOf || this.#logprobs.length === 0) return null;
    const taken = completionLogprobs(this.#logprobs, this.#textOf, this.#offset);
    const last = taken.tokens.length - 1;
    this.#offset = taken.text_offset[last]! + taken.tokens[last]!.length;
    this.#logprobs = [];
    return taken;
  }
}
