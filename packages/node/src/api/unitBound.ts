import {
  type ChatRequest,
  type CompletionRequest,
  DEFAULT_COMPLETION_MAX_TOKENS,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
} from "@atoma/engine";
import { PromptTooLongError } from "../errors.js";
import type { Endpoint, StackApi } from "./apiContext.js";
import { engineCall } from "./engineErrors.js";

export interface UnitBound {
  promptTokens: number;
  /** The most units the request can use: prompt tokens plus the most tokens it may generate. */
  units: bigint;
}

/**
 * Validates the body as the engine will and bounds its units from above, so the reservation always covers the
 * actual usage. Throws `InvalidInputError` (400), `PromptTooLongError` (400) or `UnknownModelError` (404).
 */
export async function boundUnits(api: StackApi, endpoint: Endpoint, body: unknown): Promise<UnitBound> {
  return engineCall(async () => {
    if (endpoint === "embeddings") {
      const request = parseEmbeddingRequest(body);
      const inputs = typeof request.input === "string" ? [request.input] : request.input;
      let promptTokens = 0;
      for (const input of inputs)
        promptTokens += (await api.engine.tokenize({ model: request.model, prompt: input })).count;
      checkPrompt(api, promptTokens);
      return { promptTokens, units: BigInt(Math.max(1, promptTokens)) };
    }
    const request = endpoint === "chat" ? parseChatRequest(body) : parseCompletionRequest(body);
    const tokenized = await api.engine.tokenize(
      endpoint === "chat"
        ? { model: request.model, messages: (request as ChatRequest).messages }
        : { model: request.model, prompt: promptOf(request as CompletionRequest) },
    );
    const promptTokens = tokenized.count;
    checkPrompt(api, promptTokens);
    const room = Math.max(0, tokenized.max_model_len - promptTokens);
    const requested =
      endpoint === "chat"
        ? ((request as ChatRequest).max_completion_tokens ?? request.max_tokens ?? room)
        : (request.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS);
    return { promptTokens, units: BigInt(Math.max(1, promptTokens + Math.min(requested, room))) };
  });
}

function promptOf(request: CompletionRequest): string {
  return typeof request.prompt === "string" ? request.prompt : (request.prompt[0] ?? "");
}

function checkPrompt(api: StackApi, promptTokens: number): void {
  if (promptTokens > api.limits.maxPromptTokens)
    throw new PromptTooLongError(promptTokens, api.limits.maxPromptTokens);
}
