import { type PreparedRequest, parseEmbeddingRequest } from "@atoma/engine";
import type { Endpoint, StackApi } from "./apiContext.js";
import { engineCall } from "./engineErrors.js";

/** A body as the engine read it, once for the whole request path. */
export interface PreparedBody {
  /** A chat or completion parsed, its prompt tokenized; what the engine then generates from. None for embeddings. */
  generation: PreparedRequest | undefined;
  promptTokens: number;
}

/**
 * Validates the body as the engine will and counts its prompt tokens: a chat or completion is prepared by the
 * engine, which later generates from it without parsing or tokenizing it again; embedding inputs are counted one
 * by one. Throws `InvalidInputError` (400) or `UnknownModelError` (404).
 */
export async function prepareBody(api: StackApi, endpoint: Endpoint, body: unknown): Promise<PreparedBody> {
  return engineCall(async () => {
    if (endpoint === "embeddings") {
      const request = parseEmbeddingRequest(body);
      const inputs = typeof request.input === "string" ? [request.input] : request.input;
      let promptTokens = 0;
      for (const input of inputs)
        promptTokens += (await api.engine.tokenize({ model: request.model, prompt: input })).count;
      return { generation: undefined, promptTokens };
    }
    const generation = await api.engine.prepare(body, endpoint === "chat" ? "chat" : "completion");
    return { generation, promptTokens: generation.promptTokenCount };
  });
}
