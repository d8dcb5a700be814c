import type { InferenceEngine } from "@atoma/engine";
import type { Endpoint } from "./apiContext.js";
import { engineCall } from "./engineErrors.js";

export interface EngineOutcome {
  /** The OpenAI-shaped response body, without the atoma object. */
  response: Record<string, unknown> & { usage: { prompt_tokens: number; completion_tokens?: number } };
  /** The sampler seed a verifier needs (the request's, or derived from its hash); 0 for embeddings. */
  seed: number;
}

/** One non-streamed engine call, with the node's errors for the engine's. */
export function runEngine(
  engine: InferenceEngine,
  endpoint: Endpoint,
  body: unknown,
  signal: AbortSignal,
): Promise<EngineOutcome> {
  return engineCall(async () => {
    if (endpoint === "embeddings") {
      const response = await engine.embed(body, { signal });
      return { response: response as unknown as EngineOutcome["response"], seed: 0 };
    }
    const result =
      endpoint === "chat" ? await engine.chat(body, { signal }) : await engine.complete(body, { signal });
    return {
      response: result.response as unknown as EngineOutcome["response"],
      seed: result.generation.sampling.seed,
    };
  });
}
