import { describe, expect, it } from "vitest";
import { requestBound } from "../src/limits/requestBound.js";

/**
 * Review repro (fails today): on /v1/completions the engine generates up to `max_tokens` and ignores
 * `max_completion_tokens` (engine/src/sampling.ts: completions read `max_tokens` only), while the gateway bounds the
 * request by `max_completion_tokens ?? max_tokens` and checks only that one against its cap. A client sending both
 * gets a reservation for 1 token and an answer of up to the model's context: charged past its budget (within the
 * 4096-unit receipt slack), or, past the slack, the honest node's receipt is called a lie (node removed from
 * rotation) and a streamed answer the client already read is never charged.
 */
describe("review: a completion's bound covers the max_tokens the node honours", () => {
  const options = { defaultMaxTokens: 16, maxCompletionTokens: 64 };

  it("refuses or counts a max_tokens above the cap when max_completion_tokens is also given", () => {
    const body = { model: "tiny", prompt: "hi", max_completion_tokens: 1, max_tokens: 100_000 };
    let bound: number | undefined;
    try {
      bound = requestBound("completions", body, options).maxTokens;
    } catch {
      bound = undefined; // refused: fine
    }
    if (bound !== undefined) expect(bound).toBeGreaterThanOrEqual(100_000);
  });
});
