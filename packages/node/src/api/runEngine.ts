import { InvalidInputError } from "@atoma/core";
import type { ChatResult, CompletionResult, EngineStream, InferenceEngine } from "@atoma/engine";
import { engineCall } from "./engineErrors.js";
import type { PreparedBody } from "./prepareBody.js";

export interface EngineOutcome {
  /** The OpenAI-shaped response body, without the atoma object. */
  response: Record<string, unknown> & { usage: { prompt_tokens: number; completion_tokens?: number } };
  /** The sampler seed a verifier needs (the request's, or derived from its hash); 0 for embeddings. */
  seed: number;
}

export type AnyEngineStream = EngineStream<unknown, ChatResult | CompletionResult>;

/** One non-streamed engine call on a prepared body (an embedding's body as sent), with the node's errors. */
export function runEngine(
  engine: InferenceEngine,
  prepared: PreparedBody,
  body: unknown,
  signal: AbortSignal,
): Promise<EngineOutcome> {
  return engineCall(async () => {
    const { generation } = prepared;
    if (!generation) {
      const response = await engine.embed(body, { signal });
      return { response: response as unknown as EngineOutcome["response"], seed: 0 };
    }
    const result =
      generation.kind === "chat"
        ? await engine.chat(generation, { signal })
        : await engine.complete(generation, { signal });
    return {
      response: result.response as unknown as EngineOutcome["response"],
      seed: result.generation.sampling.seed,
    };
  });
}

/** Starts a streamed chat or completion, with the node's errors; resolves once the engine has queued it. */
export function streamEngine(
  engine: InferenceEngine,
  prepared: PreparedBody,
  signal: AbortSignal,
): Promise<AnyEngineStream> {
  return engineCall<AnyEngineStream>(async () => {
    const { generation } = prepared;
    if (!generation) throw new InvalidInputError("embeddings are not streamed");
    return generation.kind === "chat"
      ? ((await engine.streamChat(generation, { signal })) as AnyEngineStream)
      : ((await engine.streamComplete(generation, { signal })) as AnyEngineStream);
  });
}
