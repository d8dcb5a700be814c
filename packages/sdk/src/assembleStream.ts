import {
  type ChatLogprobsResult,
  type CompletionLogprobsResult,
  canonicalJson,
  chatLogprobsResult,
  completionLogprobsResult,
  responseEnvelope,
} from "@atoma/core";
import { onlyKeys, ToolCallAssembler } from "./assembleToolCalls.js";
import { UnhashableStreamError } from "./errors.js";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const DELTA_KEYS = new Set(["role", "content", "tool_calls"]);
const USAGE_KEYS = ["prompt_tokens", "completion_tokens", "total_tokens"] as const;

/** Validates a choice's logprobs the way the response hash reads them; a shape it refuses is no answer. */
function logprobsOf<T>(read: (value: unknown) => T, value: unknown): T {
  try {
    return read(value);
  } catch (cause) {
    throw new UnhashableStreamError("a stream chunk carries logprobs the hash cannot read", { cause });
  }
}

/**
 * Adds streamed chunks up to the complete response they stand for, as the node hashed it, and refuses (with
 * `UnhashableStreamError`) any chunk a client could read otherwise: a choice other than 0 (the engine serves one),
 * a tool call at an odd index or renamed by a later delta, text beside tool calls (the engine's answer is one or
 * the other), a delta field no hash covers, a second object type or usage. `add` returns the chunk to relay: only
 * what is hashed (text, calls, finish reason, logprobs, usage) and the envelope (id, object, created, model,
 * system_fingerprint), so a client of the relay reads nothing the signature does not cover.
 */
export class StreamAssembler {
  #text = "";
  readonly #calls = new ToolCallAssembler();
  #finishReason: string | null = null;
  #object: "chat.completion" | "text_completion" | undefined;
  #envelope: Json | undefined;
  #usage: Json | undefined;
  #chatLogprobs: ChatLogprobsResult["content"] | undefined;
  #completionLogprobs: CompletionLogprobsResult | undefined;

  add(chunk: Json): Json {
    const object = this.#objectOf(chunk);
    this.#envelope ??= responseEnvelope(chunk);
    const relayed: Json = { ...responseEnvelope(chunk), object: chunk.object };
    if (chunk.usage !== undefined && chunk.usage !== null) relayed.usage = this.#addUsage(chunk.usage);
    const choices = chunk.choices ?? [];
    if (!Array.isArray(choices)) throw new UnhashableStreamError("a stream chunk's choices must be an array");
    relayed.choices = choices.map((choice) =>
      object === "chat.completion" ? this.#addChatChoice(choice) : this.#addTextChoice(choice),
    );
    return relayed;
  }

  #objectOf(chunk: Json): "chat.completion" | "text_completion" {
    const object =
      chunk.object === "chat.completion.chunk"
        ? "chat.completion"
        : chunk.object === "text_completion"
          ? "text_completion"
          : undefined;
    if (!object) throw new UnhashableStreamError(`a stream chunk of object ${String(chunk.object)}`);
    if (this.#object !== undefined && this.#object !== object)
      throw new UnhashableStreamError("a stream mixes chat and text completion chunks");
    this.#object = object;
    return object;
  }

  /** The usage, once: a second one that differs would show a client other counts than the hashed ones. */
  #addUsage(usage: unknown): Json {
    if (!isRecord(usage)) throw new UnhashableStreamError("a stream chunk's usage must be an object");
    const kept = Object.fromEntries(USAGE_KEYS.filter((key) => key in usage).map((key) => [key, usage[key]]));
    if (this.#usage !== undefined && canonicalJson(this.#usage) !== canonicalJson(kept))
      throw new UnhashableStreamError("a stream sends two different usages");
    this.#usage = kept;
    return kept;
  }

  #choiceOf(choice: unknown): Json {
    if (!isRecord(choice)) throw new UnhashableStreamError("a stream choice must be an object");
    if (choice.index !== 0)
      throw new UnhashableStreamError(`a stream choice at index ${String(choice.index)}: only 0 is served`);
    const finish = choice.finish_reason ?? null;
    if (finish !== null && typeof finish !== "string")
      throw new UnhashableStreamError("a stream choice's finish_reason must be a string or null");
    if (finish !== null) this.#finishReason = finish;
    return choice;
  }

  #addChatChoice(raw: unknown): Json {
    const choice = this.#choiceOf(raw);
    const delta = choice.delta ?? {};
    if (!isRecord(delta)) throw new UnhashableStreamError("a chat chunk's delta must be an object");
    onlyKeys(delta, DELTA_KEYS, "delta");
    const out: Json = {};
    if (delta.role !== undefined && delta.role !== null) {
      if (delta.role !== "assistant") throw new UnhashableStreamError("a delta's role must be assistant");
      out.role = "assistant";
    }
    if (delta.content !== undefined && delta.content !== null) {
      if (typeof delta.content !== "string")
        throw new UnhashableStreamError("a delta's content must be text");
      this.#text += delta.content;
      out.content = delta.content;
    }
    if (delta.tool_calls !== undefined && delta.tool_calls !== null) {
      if (!Array.isArray(delta.tool_calls))
        throw new UnhashableStreamError("a delta's tool_calls must be an array");
      out.tool_calls = delta.tool_calls.map((call) => this.#calls.add(call));
    }
    if (this.#text !== "" && this.#calls.calls.length > 0)
      throw new UnhashableStreamError("a stream sends text beside tool calls");
    const logprobs = logprobsOf(chatLogprobsResult, choice.logprobs);
    if (logprobs) {
      this.#chatLogprobs ??= [];
      for (const entry of logprobs.content) this.#chatLogprobs.push(entry);
    }
    return {
      index: 0,
      delta: out,
      finish_reason: choice.finish_reason ?? null,
      logprobs: logprobs ? { ...logprobs, refusal: null } : null,
    };
  }

  #addTextChoice(raw: unknown): Json {
    const choice = this.#choiceOf(raw);
    const text = choice.text ?? "";
    if (typeof text !== "string")
      throw new UnhashableStreamError("a completion chunk's text must be a string");
    this.#text += text;
    const logprobs = logprobsOf(completionLogprobsResult, choice.logprobs);
    if (logprobs) {
      this.#completionLogprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
      const sum = this.#completionLogprobs;
      for (const [i, token] of logprobs.tokens.entries()) {
        sum.tokens.push(token);
        sum.token_logprobs.push(logprobs.token_logprobs[i]!);
        sum.top_logprobs.push(logprobs.top_logprobs[i]!);
        sum.text_offset.push(logprobs.text_offset[i]!);
      }
    }
    return { index: 0, text, finish_reason: choice.finish_reason ?? null, logprobs: logprobs ?? null };
  }

  /** The complete response the chunks so far add up to (what the node hashed, if it was honest). */
  response(): Json {
    const object = this.#object ?? "chat.completion";
    const calls = this.#calls.calls;
    const choice =
      object === "chat.completion"
        ? {
            index: 0,
            message: {
              role: "assistant",
              content: calls.length > 0 && this.#text === "" ? null : this.#text,
              ...(calls.length > 0 ? { tool_calls: calls.map((call) => structuredClone(call)) } : {}),
            },
            finish_reason: this.#finishReason,
            logprobs: this.#chatLogprobs ? { content: this.#chatLogprobs, refusal: null } : null,
          }
        : {
            index: 0,
            text: this.#text,
            finish_reason: this.#finishReason,
            logprobs: this.#completionLogprobs ?? null,
          };
    return { ...this.#envelope, object, choices: [choice], usage: this.#usage };
  }
}
