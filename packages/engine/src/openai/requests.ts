import { z } from "zod";
import { InvalidRequestError, UnsupportedParameterError } from "../errors.js";
import {
  assistantToolCallSchema,
  MAX_TOOLS,
  responseFormatSchema,
  toolChoiceSchema,
  toolSchema,
} from "./toolSchemas.js";

/** Longest text a single string field may carry (characters); the prompt's token bound applies as well. */
export const MAX_TEXT_CHARS = 1_000_000;
/** OpenAI's limit on stop sequences. */
export const MAX_STOP_SEQUENCES = 4;
export const MAX_STOP_CHARS = 256;
export const MAX_MESSAGES = 1024;
export const MAX_EMBEDDING_INPUTS = 256;
/** OpenAI's bounds on the alternatives reported per token: 20 for chats, 5 for text completions. */
export const MAX_CHAT_TOP_LOGPROBS = 20;
export const MAX_COMPLETION_LOGPROBS = 5;
/** Largest seed accepted (llama.cpp samplers take 32 bits). */
export const MAX_REQUEST_SEED = 0xffff_ffff;

const text = z.string().max(MAX_TEXT_CHARS);
const stop = z.union([
  z.string().min(1).max(MAX_STOP_CHARS),
  z.array(z.string().min(1).max(MAX_STOP_CHARS)).max(MAX_STOP_SEQUENCES),
]);
const count = z.int().min(1).max(10_000_000);

const contentPart = z.looseObject({ type: z.string(), text: z.string().max(MAX_TEXT_CHARS).optional() });
export const chatMessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([text, z.array(contentPart).max(256), z.null()]).optional(),
  name: z.string().max(256).optional(),
  /** An assistant turn's calls (a follow-up turn replays them). */
  tool_calls: z.array(assistantToolCallSchema).max(MAX_TOOLS).nullish(),
  /** A tool turn: the call it answers. */
  tool_call_id: z.string().max(256).nullish(),
});

/** Sampling and length fields shared by chat and text completions (vLLM's extensions included). */
const samplingFields = {
  model: z.string().min(1).max(256),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z
    .int()
    .min(-1)
    .max(2 ** 31 - 1)
    .nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.int().min(0).max(MAX_REQUEST_SEED).nullish(),
  max_tokens: count.nullish(),
  stop: stop.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  ignore_eos: z.boolean().nullish(),
  n: z.int().min(1).nullish(),
  presence_penalty: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  repetition_penalty: z.number().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
};

export const chatRequestSchema = z.looseObject({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1).max(MAX_MESSAGES),
  max_completion_tokens: count.nullish(),
  tools: z.array(toolSchema).max(MAX_TOOLS).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  functions: z.array(z.unknown()).nullish(),
  function_call: z.unknown().optional(),
  response_format: responseFormatSchema.nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(MAX_CHAT_TOP_LOGPROBS).nullish(),
});

export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([text, z.array(text).length(1)]),
  logprobs: z.union([z.boolean(), z.int().min(0).max(MAX_COMPLETION_LOGPROBS)]).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  best_of: z.int().nullish(),
});

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([text, z.array(text).min(1).max(MAX_EMBEDDING_INPUTS)]),
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: z.int().nullish(),
});

export const tokenizeRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  prompt: text.optional(),
  messages: z.array(chatMessageSchema).min(1).max(MAX_MESSAGES).optional(),
});

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;
export type TokenizeRequest = z.infer<typeof tokenizeRequestSchema>;

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.join(".") || undefined;
  throw new InvalidRequestError(
    `invalid ${what} request: ${param ? `${param}: ` : ""}${issue?.message ?? "bad body"}`,
    {
      param,
    },
  );
}

function unsupported(param: string, when: boolean, message: string): void {
  if (when) throw new UnsupportedParameterError(param, message);
}

function rejectUnsupportedSampling(body: ChatRequest | CompletionRequest): void {
  unsupported("n", (body.n ?? 1) !== 1, "n must be 1: one choice per request");
  unsupported("presence_penalty", (body.presence_penalty ?? 0) !== 0, "presence_penalty is not supported");
  unsupported("frequency_penalty", (body.frequency_penalty ?? 0) !== 0, "frequency_penalty is not supported");
  unsupported(
    "repetition_penalty",
    (body.repetition_penalty ?? 1) !== 1,
    "repetition_penalty is not supported",
  );
  unsupported("logit_bias", Object.keys(body.logit_bias ?? {}).length > 0, "logit_bias is not supported");
}

export function parseChatRequest(body: unknown): ChatRequest {
  const request = parse(chatRequestSchema, body, "chat completion");
  rejectUnsupportedSampling(request);
  unsupported(
    "functions",
    (request.functions?.length ?? 0) > 0 || request.function_call != null,
    "functions and function_call are superseded by tools and tool_choice",
  );
  if (request.top_logprobs != null && request.logprobs !== true)
    throw new InvalidRequestError("top_logprobs needs logprobs: true", { param: "top_logprobs" });
  for (const [index, message] of request.messages.entries())
    if (Array.isArray(message.content))
      for (const part of message.content)
        unsupported(
          `messages.${index}.content`,
          part.type !== "text",
          `content part type ${part.type} is not supported`,
        );
  return request;
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  const request = parse(completionRequestSchema, body, "completion");
  rejectUnsupportedSampling(request);
  unsupported("echo", request.echo === true, "echo is not supported");
  unsupported("suffix", Boolean(request.suffix), "suffix is not supported");
  unsupported("best_of", (request.best_of ?? 1) !== 1, "best_of must be 1");
  if (request.logprobs === true)
    throw new InvalidRequestError(
      `logprobs of a text completion is how many alternatives to report per token, 0 to ${MAX_COMPLETION_LOGPROBS}`,
      { param: "logprobs" },
    );
  return request;
}

/**
 * Refuses what only an engine that constrains decoding with a grammar and reads each token's probabilities serves:
 * tools, JSON answers and logprobs.
 */
export function refuseStructuredOutput(request: ChatRequest | CompletionRequest): void {
  const chat = request as Partial<ChatRequest>;
  unsupported("tools", (chat.tools?.length ?? 0) > 0, "tools are not supported by this engine");
  unsupported(
    "response_format",
    chat.response_format != null && chat.response_format.type !== "text",
    "only text responses are supported by this engine",
  );
  unsupported(
    "logprobs",
    Boolean(request.logprobs) || Boolean(chat.top_logprobs),
    "logprobs are not supported by this engine",
  );
}

export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  const request = parse(embeddingRequestSchema, body, "embeddings");
  unsupported("dimensions", request.dimensions != null, "dimensions is not supported");
  return request;
}

export function parseTokenizeRequest(body: unknown): TokenizeRequest {
  const request = parse(tokenizeRequestSchema, body, "tokenize");
  if ((request.prompt === undefined) === (request.messages === undefined))
    throw new InvalidRequestError("tokenize needs exactly one of prompt or messages");
  return request;
}

/** OpenAI content: a string, null, or text parts (joined). */
export function contentText(content: ChatMessage["content"]): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join("");
}

/** The prompt string of a completion request. */
export function completionPrompt(request: CompletionRequest): string {
  return typeof request.prompt === "string" ? request.prompt : request.prompt[0]!;
}
