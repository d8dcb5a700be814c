import type { Detokenize } from "./detokenizer.js";

export interface AssembledText {
  /** Text safe to send now: complete UTF-8 characters that cannot be the start of a stop sequence. */
  delta: string;
  /** A stop sequence appeared; the text ends where it began. */
  stopped: boolean;
}

/** Longest UTF-8 character in bytes: how many byte-fallback tokens one character may need. */
const MAX_CHARACTER_TOKENS = 4;

/**
 * Builds a completion's text token by token, the same way for streaming and non-streaming output: it holds back
 * an incomplete UTF-8 character (spelled in byte-fallback tokens) until its last byte arrives, and text that could
 * still turn into a stop sequence; when a stop sequence appears the text is cut where it begins.
 */
export class TextAssembler {
  readonly #detokenize: Detokenize;
  readonly #stops: readonly string[];
  readonly #longestStop: number;
  #pending: number[] = [];
  #text = "";
  #emitted = 0;
  #stopped = false;

  constructor(detokenize: Detokenize, stops: readonly string[]) {
    this.#detokenize = detokenize;
    this.#stops = stops.filter((stop) => stop.length > 0);
    this.#longestStop = Math.max(0, ...this.#stops.map((stop) => stop.length));
  }

  /** All text so far, holdbacks included (after a stop: up to the stop sequence). */
  get text(): string {
    return this.#text;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Text already given out as deltas: final whatever comes next. */
  get settledText(): string {
    return this.#text.slice(0, this.#emitted);
  }

  /** No token is waiting for the rest of its character. */
  get complete(): boolean {
    return this.#pending.length === 0;
  }

  push(token: number): AssembledText {
    if (this.#stopped) return { delta: "", stopped: true };
    this.#pending.push(token);
    const piece = this.#detokenize(this.#pending);
    if (piece.endsWith("\uFFFD") && this.#pending.length < MAX_CHARACTER_TOKENS)
      return { delta: "", stopped: false };
    return this.#commit(piece, false);
  }

  /** Flushes what is held back once generation ended (an unfinished character becomes U+FFFD). */
  finish(): AssembledText {
    if (this.#stopped) return { delta: "", stopped: true };
    const piece = this.#pending.length > 0 ? this.#detokenize(this.#pending) : "";
    return this.#commit(piece, true);
  }

  #commit(piece: string, final: boolean): AssembledText {
    const searchFrom = Math.max(0, this.#text.length - this.#longestStop + 1);
    this.#pending = [];
    this.#text += piece;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = this.#text.indexOf(stop, searchFrom);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.#text = this.#text.slice(0, cut);
      this.#stopped = true;
    }
    const safeEnd = this.#stopped || final ? this.#text.length : this.#text.length - this.#heldBack();
    const delta = this.#text.slice(this.#emitted, safeEnd);
    this.#emitted = Math.max(this.#emitted, safeEnd);
    return { delta, stopped: this.#stopped };
  }

  /** Length of the longest end of the text that begins some stop sequence. */
  #heldBack(): number {
    const text = this.#text;
    for (let length = Math.min(this.#longestStop - 1, text.length); length > 0; length--) {
      const tail = text.slice(text.length - length);
      if (this.#stops.some((stop) => stop.startsWith(tail))) return length;
    }
    return 0;
  }
}
