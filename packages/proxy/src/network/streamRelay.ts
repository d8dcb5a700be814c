import { NodeFailedError } from "../errors.js";

type Json = Record<string, unknown>;

interface ChoiceSeen {
  /** The text (chat `delta.content` or completion `text`) the client has. */
  text: string;
  /** Of this attempt's text, how much has arrived so far. */
  replayed: number;
  role: boolean;
  toolCalls: boolean;
  finished: boolean;
  /** Logprob entries (one per token) the client has, and how many of this attempt's have arrived. */
  logprobs: number;
  logprobsReplayed: number;
}

/** The per-token arrays of a choice's logprobs: chat `content`; completions' four parallel arrays. */
const TOKEN_ARRAYS = ["content", "tokens", "token_logprobs", "top_logprobs", "text_offset"] as const;

const tokenCount = (logprobs: Json): number =>
  Array.isArray(logprobs.content)
    ? logprobs.content.length
    : Array.isArray(logprobs.tokens)
      ? logprobs.tokens.length
      : 0;

/** `logprobs` without its first `skip` tokens' entries. */
function skipTokens(logprobs: Json, skip: number): Json {
  const out: Json = { ...logprobs };
  for (const key of TOKEN_ARRAYS) if (Array.isArray(logprobs[key])) out[key] = logprobs[key].slice(skip);
  return out;
}

const textOf = (choice: Json): string | undefined => {
  const delta = choice.delta as Json | undefined;
  const text = delta ? delta.content : choice.text;
  return typeof text === "string" ? text : undefined;
};

/**
 * Passes a stream's chunks to the client once each. When a connection breaks mid-stream the SDK's `StackClient`
 * resends the same signed request and the node answers it again from the start (a committed answer comes back
 * as one chunk): the relay passes on only what the client has not seen, so no text appears twice. A replay that
 * disagrees with what was already passed cannot be mended: it ends the stream with `NodeFailedError`.
 */
export class StreamRelay {
  readonly #choices = new Map<number, ChoiceSeen>();
  #attempt = 0;
  #usageSent = false;

  /** A new attempt of the same request starts (the client resends it). */
  restart(): void {
    this.#attempt++;
    for (const choice of this.#choices.values()) {
      choice.replayed = 0;
      choice.logprobsReplayed = 0;
    }
  }

  /** What of `chunk` the client has not seen yet, or undefined when nothing. */
  pass(chunk: Json): Json | undefined {
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Json[]) : [];
    if (choices.length === 0) {
      if (chunk.usage === undefined) return this.#attempt === 0 ? chunk : undefined;
      if (this.#usageSent) return undefined;
      this.#usageSent = true;
      return chunk;
    }
    const fresh = choices.map((choice) => this.#fresh(choice)).filter((c): c is Json => c !== undefined);
    return fresh.length === 0 ? undefined : { ...chunk, choices: fresh };
  }

  #fresh(choice: Json): Json | undefined {
    const index = typeof choice.index === "number" ? choice.index : 0;
    let seen = this.#choices.get(index);
    if (!seen) {
      seen = {
        text: "",
        replayed: 0,
        role: false,
        toolCalls: false,
        finished: false,
        logprobs: 0,
        logprobsReplayed: 0,
      };
      this.#choices.set(index, seen);
    }
    const delta = choice.delta as Json | undefined;
    const text = textOf(choice) ?? "";
    // The part of this attempt's text the client already has must be what it has.
    const overlap = Math.max(0, Math.min(text.length, seen.text.length - seen.replayed));
    if (text.slice(0, overlap) !== seen.text.slice(seen.replayed, seen.replayed + overlap))
      throw new NodeFailedError("the node answered a resent request differently: the stream cannot go on");
    seen.replayed += text.length;
    const newText = text.slice(overlap);
    seen.text += newText;
    const hasRole = delta?.role !== undefined;
    const hasTools = Array.isArray(delta?.tool_calls) && delta.tool_calls.length > 0;
    if (hasTools && seen.toolCalls && this.#attempt > 0)
      throw new NodeFailedError(
        "the stream broke inside a tool call: it cannot be resumed without repeating it",
      );
    const finish = choice.finish_reason !== null && choice.finish_reason !== undefined;
    const out: Json = { ...choice };
    if (delta) {
      const nextDelta: Json = { ...delta };
      if (hasRole && seen.role) delete nextDelta.role;
      if (typeof delta.content === "string") nextDelta.content = newText;
      if (typeof delta.content === "string" && newText === "" && this.#attempt > 0) delete nextDelta.content;
      out.delta = nextDelta;
    } else if (typeof choice.text === "string") out.text = newText;
    if (finish && seen.finished) out.finish_reason = null;
    // A replay's logprobs cover its text from the start: pass only the tokens' the client does not have.
    const logprobs = choice.logprobs as Json | null | undefined;
    let newLogprobs = 0;
    if (logprobs && typeof logprobs === "object") {
      const count = tokenCount(logprobs);
      const had = Math.max(0, Math.min(count, seen.logprobs - seen.logprobsReplayed));
      seen.logprobsReplayed += count;
      newLogprobs = count - had;
      seen.logprobs += newLogprobs;
      out.logprobs = newLogprobs === 0 ? null : had === 0 ? logprobs : skipTokens(logprobs, had);
    }
    const news =
      newText !== "" || (hasRole && !seen.role) || hasTools || (finish && !seen.finished) || newLogprobs > 0;
    seen.role ||= hasRole;
    seen.toolCalls ||= hasTools;
    seen.finished ||= finish;
    // The first attempt passes everything as the node sent it; a replay passes only news.
    return this.#attempt === 0 || news ? out : undefined;
  }
}
