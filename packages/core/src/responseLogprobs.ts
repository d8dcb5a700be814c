import { InvalidInputError } from "./errors.js";

/** One token of a chat answer's logprobs, as the engine writes it. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes (null where a server has none). */
  bytes: number[] | null;
}

/** A chat choice's logprobs as hashed: one entry per generated token (OpenAI's `refusal` is always null). */
export interface ChatLogprobsResult {
  content: (ChatTokenLogprob & { top_logprobs: ChatTokenLogprob[] })[];
}

/** A text completion choice's logprobs as hashed (OpenAI's legacy shape). */
export interface CompletionLogprobsResult {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function arrayOf<T>(value: unknown, what: string, item: (v: unknown, at: number) => T): T[] {
  if (!Array.isArray(value)) throw new InvalidInputError(`logprobs ${what} must be an array`);
  return value.map(item);
}

function logprobOf(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value > 0)
    throw new InvalidInputError(`logprobs ${what} must be a finite number at most 0`);
  return value;
}

function stringOf(value: unknown, what: string): string {
  if (typeof value !== "string") throw new InvalidInputError(`logprobs ${what} must be a string`);
  return value;
}

function bytesOf(value: unknown, what: string): number[] | null {
  if (value === null) return null;
  return arrayOf(value, what, (byte) => {
    if (!Number.isInteger(byte) || (byte as number) < 0 || (byte as number) > 255)
      throw new InvalidInputError(`logprobs ${what} must be bytes`);
    return byte as number;
  });
}

function chatToken(value: unknown, at: string): ChatTokenLogprob {
  if (!isRecord(value)) throw new InvalidInputError(`logprobs ${at} must be an object`);
  return {
    token: stringOf(value.token, `${at}.token`),
    logprob: logprobOf(value.logprob, `${at}.logprob`),
    bytes: bytesOf(value.bytes ?? null, `${at}.bytes`),
  };
}

/**
 * A chat choice's logprobs as the response hash covers them: each token's text, logprob, bytes and alternatives,
 * nothing else. Undefined when absent, null or empty (an answer of no token), so answers without logprobs hash as
 * before. A non-null `refusal` is refused: the engine never writes one.
 */
export function chatLogprobsResult(value: unknown): ChatLogprobsResult | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new InvalidInputError("chat logprobs must be an object or null");
  if (value.refusal !== undefined && value.refusal !== null)
    throw new InvalidInputError("chat logprobs refusal must be null");
  const content = arrayOf(value.content, "content", (entry, i) => {
    const token = chatToken(entry, `content[${i}]`);
    const top = arrayOf((entry as Json).top_logprobs, `content[${i}].top_logprobs`, (alternative, j) =>
      chatToken(alternative, `content[${i}].top_logprobs[${j}]`),
    );
    return { ...token, top_logprobs: top };
  });
  return content.length === 0 ? undefined : { content };
}

/** A text completion choice's logprobs as the response hash covers them (undefined when absent, null or empty). */
export function completionLogprobsResult(value: unknown): CompletionLogprobsResult | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new InvalidInputError("completion logprobs must be an object or null");
  const tokens = arrayOf(value.tokens, "tokens", (token, i) => stringOf(token, `tokens[${i}]`));
  const tokenLogprobs = arrayOf(value.token_logprobs, "token_logprobs", (logprob, i) =>
    logprobOf(logprob, `token_logprobs[${i}]`),
  );
  const top = arrayOf(value.top_logprobs, "top_logprobs", (entry, i) => {
    if (!isRecord(entry)) throw new InvalidInputError(`logprobs top_logprobs[${i}] must be an object`);
    return Object.fromEntries(
      Object.entries(entry).map(([text, logprob]) => [text, logprobOf(logprob, `top_logprobs[${i}]`)]),
    );
  });
  const offsets = arrayOf(value.text_offset, "text_offset", (offset, i) => {
    if (!Number.isSafeInteger(offset) || (offset as number) < 0)
      throw new InvalidInputError(`logprobs text_offset[${i}] must be a count`);
    return offset as number;
  });
  const n = tokens.length;
  if (tokenLogprobs.length !== n || top.length !== n || offsets.length !== n)
    throw new InvalidInputError("completion logprobs arrays must be of one length");
  return n === 0
    ? undefined
    : { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
}
