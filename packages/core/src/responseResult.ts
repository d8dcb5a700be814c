import { stringToBytes } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import { InvalidInputError } from "./errors.js";
import { type Hash, hashCanonical } from "./hash.js";

/** What a recomputation reproduces of a response: no ids, timestamps, fingerprints or the atoma object. */
export type ReproducibleResult =
  | {
      object: "chat.completion" | "text_completion";
      model: string;
      choices: { index: number; text: string; finish_reason: string | null }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    }
  | {
      object: "embedding";
      model: string;
      data: { index: number; embedding: number[] | string }[];
      usage: { prompt_tokens: number; total_tokens: number };
    };

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

/** Extracts the reproducible part of an OpenAI-shaped chat, completion or embeddings response. */
export function reproducibleResult(response: unknown): ReproducibleResult {
  if (!isRecord(response)) throw new InvalidInputError("response must be a JSON object");
  const object = field(response, "object", isString, "a string");
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
    return {
      index: field(choice, "index", isCount, "a count"),
      text: choiceText(choice, object),
      finish_reason: field(choice, "finish_reason", isFinishReason, "a string or null"),
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
