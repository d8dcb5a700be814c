import { stringToBytes } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import { InvalidInputError } from "./errors.js";
import { type Hash, hashCanonical } from "./hash.js";
import {
  type ChatLogprobsResult,
  type CompletionLogprobsResult,
  chatLogprobsResult,
  completionLogprobsResult,
} from "./responseLogprobs.js";

/** A tool call as a chat answer makes it (its id derived from the request, so recomputation writes the same). */
export interface ReproducibleToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/**
 * What a recomputation reproduces of a response: no ids, timestamps, fingerprints or the atoma object. A chat
 * choice that calls tools carries its calls, and a choice whose request asked for logprobs its logprobs (each
 * field only when present, so other results hash as before): a node cannot fake either past an attester's replay.
 */
export type ReproducibleResult =
  | {
      object: "chat.completion" | "text_completion";
      model: string;
      choices: {
        index: number;
        text: string;
        finish_reason: string | null;
        tool_calls?: ReproducibleToolCall[];
        logprobs?: ChatLogprobsResult | CompletionLogprobsResult;
      }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    }
  | {
      object: "embedding";
      model: string;
      data: { index: number; embedding: number[] | string }[];
      usage: { prompt_tokens: number; total_tokens: number };
    }
  | {
      /**
       * A confidential answer (security level 3): the sealed chunks as sent, in order, and the usage in clear (the
       * receipt's units, and the tail of the result bytes `ReceiptFraud` reads). Nothing of the text is in clear.
       */
      object: typeof SEALED_ANSWER_OBJECT;
      chunks: string[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };

/** The `object` of a confidential answer, whose chunks are HPKE-sealed to the client (see `@atoma/confidential`). */
export const SEALED_ANSWER_OBJECT = "atoma.confidential.answer";
/**
 * The gateway's event in a relayed sealed stream when a resend of the signed request brought a new answer (another
 * salt in chunk 0) after chunks of the first were relayed: the client drops what it showed and reads what follows
 * from its start with a fresh reader (`reader.retry()`). Only one answer, the new one, carries a receipt.
 */
export const SEALED_RESTART_OBJECT = "atoma.confidential.restart";
/** Bounds a sealed answer's chunk count (each chunk is one engine event). */
const MAX_SEALED_CHUNKS = 1_000_000;
const isSealedChunk = (v: unknown): v is string => typeof v === "string" && /^0x([0-9a-f]{2})+$/.test(v);

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function field<T>(record: Json, key: string, check: (v: unknown) => v is T, what: string): T {
  const value = record[key];
  if (!check(value)) throw new InvalidInputError(`response ${key} must be ${what}`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isFinishReason = (v: unknown): v is string | null => v === null || typeof v === "string";

function usageOf(response: Json) {
  const usage = response.usage;
  if (!isRecord(usage)) throw new InvalidInputError("response usage must be an object");
  return usage;
}

function choiceText(choice: Json, object: string): string {
  if (object === "text_completion") return field(choice, "text", isString, "a string");
  const message = choice.message ?? choice.delta;
  if (!isRecord(message)) throw new InvalidInputError("chat choice has no message");
  const content = message.content;
  if (content === null || content === undefined) return "";
  if (typeof content !== "string") throw new InvalidInputError("chat message content must be a string");
  return content;
}

/** A chat choice's tool calls (undefined when it makes none): a complete message's, or a stream's assembled ones. */
function choiceToolCalls(choice: Json): ReproducibleToolCall[] | undefined {
  const message = choice.message ?? choice.delta;
  const calls = isRecord(message) ? message.tool_calls : undefined;
  if (calls === undefined || calls === null) return undefined;
  if (!Array.isArray(calls)) throw new InvalidInputError("chat message tool_calls must be an array");
  if (calls.length === 0) return undefined;
  return calls.map((call, position) => {
    if (!isRecord(call) || !isRecord(call.function))
      throw new InvalidInputError(`tool call ${position} must be an object with a function`);
    if (call.type !== "function")
      throw new InvalidInputError(`tool call ${position} must be of type function`);
    return {
      id: field(call, "id", isString, "a string"),
      type: "function",
      function: {
        name: field(call.function, "name", isString, "a string"),
        arguments: field(call.function, "arguments", isString, "a string"),
      },
    };
  });
}

/** Extracts the reproducible part of an OpenAI-shaped chat, completion or embeddings response. */
export function reproducibleResult(response: unknown): ReproducibleResult {
  if (!isRecord(response)) throw new InvalidInputError("response must be a JSON object");
  const object = field(response, "object", isString, "a string");
  if (object === SEALED_ANSWER_OBJECT) {
    const chunks = field(response, "chunks", isArray, "an array");
    if (chunks.length === 0 || chunks.length > MAX_SEALED_CHUNKS || !chunks.every(isSealedChunk))
      throw new InvalidInputError("response chunks must be lowercase 0x-prefixed hex strings");
    const usage = usageOf(response);
    const completion = usage.completion_tokens ?? 0;
    if (!isCount(completion)) throw new InvalidInputError("response completion_tokens must be a count");
    return {
      object,
      chunks,
      usage: {
        prompt_tokens: field(usage, "prompt_tokens", isCount, "a count"),
        completion_tokens: completion,
        total_tokens: field(usage, "total_tokens", isCount, "a count"),
      },
    };
  }
  const model = field(response, "model", isString, "a string");
  const usage = usageOf(response);
  if (object === "list") {
    const data = field(response, "data", isArray, "an array").map((item, position) => {
      if (!isRecord(item)) throw new InvalidInputError(`embedding ${position} must be an object`);
      const embedding = item.embedding;
      if (!(typeof embedding === "string" || (Array.isArray(embedding) && embedding.every(Number.isFinite))))
        throw new InvalidInputError(`embedding ${position} must be numbers or base64`);
      return { index: field(item, "index", isCount, "a count"), embedding: embedding as number[] | string };
    });
    return {
      object: "embedding",
      model,
      data,
      usage: {
        prompt_tokens: field(usage, "prompt_tokens", isCount, "a count"),
        total_tokens: field(usage, "total_tokens", isCount, "a count"),
      },
    };
  }
  if (object !== "chat.completion" && object !== "text_completion")
    throw new InvalidInputError(`unsupported response object: ${object}`);
  const choices = field(response, "choices", isArray, "an array").map((choice, position) => {
    if (!isRecord(choice)) throw new InvalidInputError(`choice ${position} must be an object`);
    const toolCalls = object === "chat.completion" ? choiceToolCalls(choice) : undefined;
    const logprobs =
      object === "chat.completion"
        ? chatLogprobsResult(choice.logprobs)
        : completionLogprobsResult(choice.logprobs);
    return {
      index: field(choice, "index", isCount, "a count"),
      text: choiceText(choice, object),
      finish_reason: field(choice, "finish_reason", isFinishReason, "a string or null"),
      ...(toolCalls ? { tool_calls: toolCalls } : {}),
      ...(logprobs ? { logprobs } : {}),
    };
  });
  return {
    object,
    model,
    choices,
    usage: {
      prompt_tokens: field(usage, "prompt_tokens", isCount, "a count"),
      completion_tokens: field(usage, "completion_tokens", isCount, "a count"),
      total_tokens: field(usage, "total_tokens", isCount, "a count"),
    },
  };
}

/** respHash = H(JCS(reproducible result)). */
export function responseHash(response: unknown): Hash {
  return hashCanonical(reproducibleResult(response));
}

/**
 * The result bytes of a response: the UTF-8 bytes of the canonical JSON of its reproducible result, whose hash is
 * the response hash. Their tail is the usage object (its key sorts last), which `ReceiptFraud` reads on-chain to
 * prove that a receipt's units are not the usage of the answer it signed.
 */
export function resultBytes(response: unknown): Uint8Array {
  return stringToBytes(canonicalJson(reproducibleResult(response)));
}
