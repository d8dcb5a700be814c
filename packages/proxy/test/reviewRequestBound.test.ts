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

describe("the request bound of a chat's other prompt fields", () => {
  const options = { defaultMaxTokens: 16, maxCompletionTokens: 64 };
  const messages = [{ role: "user", content: "hi" }];
  const plain = requestBound("chat", { model: "tiny", messages, max_tokens: 8 }, options).maxTokens;
  const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

  it("adds the bytes of tool_choice and response_format, and the tools block's fixed text", () => {
    const toolChoice = { type: "function", function: { name: "f".repeat(1_000) } };
    const format = {
      type: "json_schema",
      json_schema: { name: "x", schema: { description: "d".repeat(2_000) } },
    };
    const withChoice = requestBound(
      "chat",
      { model: "tiny", messages, max_tokens: 8, tool_choice: toolChoice },
      options,
    );
    expect(withChoice.maxTokens).toBeGreaterThanOrEqual(plain + bytes(toolChoice));
    const withFormat = requestBound(
      "chat",
      { model: "tiny", messages, max_tokens: 8, response_format: format },
      options,
    );
    expect(withFormat.maxTokens).toBeGreaterThanOrEqual(plain + bytes(format));
    const tools = [{ type: "function", function: { name: "f", parameters: {} } }];
    const withTools = requestBound("chat", { model: "tiny", messages, max_tokens: 8, tools }, options);
    expect(withTools.maxTokens).toBeGreaterThanOrEqual(plain + bytes(tools) + 400);
  });
});
