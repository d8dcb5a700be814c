import type { Token } from "node-llama-cpp";
import { ContextLengthExceededError, InvalidRequestError, RequestAbortedError } from "../errors.js";
import type { EmbeddingRequest } from "../openai/requests.js";
import type { EmbeddingResponse } from "../openai/responses.js";
import type { LoadedModel } from "./LoadedModel.js";

/** Embeds each input (the model's final hidden state for it), counting exactly the tokens evaluated. */
export async function embed(
  loaded: LoadedModel,
  request: EmbeddingRequest,
  signal: AbortSignal | undefined,
): Promise<EmbeddingResponse> {
  const inputs = typeof request.input === "string" ? [request.input] : request.input;
  for (const [index, input] of inputs.entries())
    if (input.length === 0) throw new InvalidRequestError(`input ${index} is empty`, { param: "input" });
  return loaded.withEmbeddingContext(async (context) => {
    const data: EmbeddingResponse["data"] = [];
    let promptTokens = 0;
    for (const [index, input] of inputs.entries()) {
      if (signal?.aborted)
        throw new RequestAbortedError({ prompt_tokens: promptTokens, completion_tokens: 0 });
      const tokens = loaded.model.tokenize(input, false) as Token[];
      const length = context.calculateInputLength(tokens);
      if (length >= loaded.contextSize) throw new ContextLengthExceededError(length, 0, loaded.contextSize);
      const { vector } = await context.getEmbeddingFor(tokens);
      promptTokens += length;
      data.push({
        object: "embedding",
        index,
        embedding: request.encoding_format === "base64" ? toBase64(vector) : [...vector],
      });
    }
    return {
      object: "list",
      model: loaded.id,
      data,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
}

/** OpenAI's base64 form: little-endian float32 values. */
function toBase64(vector: readonly number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (const [i, value] of vector.entries()) view.setFloat32(i * 4, value, true);
  return Buffer.from(bytes).toString("base64");
}
