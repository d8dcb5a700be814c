import { InvalidInputError } from "@atoma/core";

export type Endpoint = "chat" | "completions" | "embeddings";

export interface BoundOptions {
  /** `max_tokens` set on a chat or completion that names none, so its cost has a bound. */
  defaultMaxTokens: number;
  /** The most tokens a request may ask to generate. */
  maxCompletionTokens: number;
}

export interface RequestBound {
  /** At least the units (prompt plus generated tokens) the request can use. */
  maxTokens: number;
  /** The body to send: the client's, with `max_tokens` added when it named no limit. */
  body: Record<string, unknown>;
}

/**
 * Tokens a tokenizer with byte fallback never exceeds for a text: one per UTF-8 byte. The prompt is counted as
 * the JSON of its messages, whose quotes, braces and role names outnumber what a chat template adds per message;
 * the margin covers a template's fixed preamble and the begin/end tokens.
 */
const TEMPLATE_MARGIN = 64;
const encoder = new TextEncoder();
const bytesOf = (value: unknown) => encoder.encode(JSON.stringify(value) ?? "").length;

function positiveInt(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)
    throw new InvalidInputError(`${field} must be a positive whole number`);
  return value;
}

/** A token-id array counts one per id; text counts its bytes. */
function promptTokens(input: unknown, field: string): number {
  if (typeof input === "string") return encoder.encode(input).length;
  if (Array.isArray(input) && input.length > 0) {
    if (input.every((item) => typeof item === "number")) return input.length;
    if (input.every((item) => typeof item === "string" || Array.isArray(item)))
      return input.reduce<number>((sum, item) => sum + promptTokens(item, field), 0);
  }
  throw new InvalidInputError(`${field} must be a string or a non-empty array of strings or token ids`);
}

/**
 * Chat fields a node may write into the prompt beside the messages (tool definitions into the system prompt, a
 * tool choice or response schema into its instructions): each counted as the bytes of its JSON.
 */
const PROMPT_FIELDS = ["tools", "tool_choice", "response_format", "functions", "function_call"] as const;

/** The fixed text around the tools' definitions (the engine's `toolsBlock`: heading, instructions, tags), with room. */
const TOOLS_BLOCK_MARGIN = 1_024;

function renderedExtras(body: Record<string, unknown>): number {
  let bytes = Array.isArray(body.tools) && body.tools.length > 0 ? TOOLS_BLOCK_MARGIN : 0;
  for (const field of PROMPT_FIELDS)
    if (body[field] !== undefined && body[field] !== null) bytes += bytesOf(body[field]);
  return bytes;
}

/** The most tokens `body` can cost on `endpoint`, and the body to send so that the bound holds. */
export function requestBound(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  options: BoundOptions,
): RequestBound {
  if (endpoint === "embeddings") {
    const inputs = Array.isArray(body.input) ? body.input.length : 1;
    return { maxTokens: promptTokens(body.input, "input") + 2 * inputs, body };
  }
  const prompt =
    endpoint === "chat"
      ? Array.isArray(body.messages) && body.messages.length > 0
        ? bytesOf(body.messages) + renderedExtras(body)
        : invalid("messages must be a non-empty array")
      : promptTokens(body.prompt, "prompt");
  // Engines differ on which field they honour (completions read `max_tokens` only), so both named are bounded and
  // capped: the larger is what the request can cost.
  const limits = [positiveInt(body, "max_completion_tokens"), positiveInt(body, "max_tokens")].filter(
    (limit): limit is number => limit !== undefined,
  );
  const asked = limits.length > 0 ? Math.max(...limits) : undefined;
  if (asked !== undefined && asked > options.maxCompletionTokens)
    throw new InvalidInputError(`max_tokens must be at most ${options.maxCompletionTokens} on this gateway`);
  const choices = positiveInt(body, "n") ?? 1;
  const completion = asked ?? options.defaultMaxTokens;
  const sent = asked === undefined ? { ...body, max_tokens: completion } : body;
  return { maxTokens: prompt + TEMPLATE_MARGIN + completion * choices, body: sent };
}

function invalid(message: string): never {
  throw new InvalidInputError(message);
}
