import { describe, expect, it } from "vitest";
import { requestBound } from "../src/limits/requestBound.js";

/** Review repro (fails today): the bound a chat's budget is reserved at leaves out what the node renders of `tools`. */
describe("review: the request bound covers every byte the node puts in the prompt", () => {
  it("counts the tools' definitions, which the node writes into the system prompt", () => {
    const tools = Array.from({ length: 100 }, (_, i) => ({
      type: "function",
      function: {
        name: `f${i}`,
        description: "d".repeat(5_000),
        parameters: { type: "object", properties: {} },
      },
    }));
    const body = { model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8, tools };
    const bound = requestBound("chat", body, { defaultMaxTokens: 16, maxCompletionTokens: 64 });
    // ~500 KB of tool text reaches the prompt (`toolPrompt.ts`: canonical JSON of each tool); the reservation is
    // for ~100 units, so the node's honest usage (~125k tokens) is charged past the key's budget, and past its
    // tokens-per-minute allowance (the ticket took the bound only).
    expect(bound.maxTokens).toBeGreaterThanOrEqual(new TextEncoder().encode(JSON.stringify(tools)).length);
  });
});
