import { describe, expect, it } from "vitest";
import { answerTokens, answerTokensPerSecond } from "./answerThroughput.js";

const chat = (content: unknown, completionTokens: unknown, extra: Record<string, unknown> = {}) => ({
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content, ...extra }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: completionTokens, total_tokens: 5 },
});

describe("answerTokens: the output tokens a verified answer shows", () => {
  it("does not count tokens a node claims in its usage beyond the text it answered", () => {
    // Each output token decodes to at least one byte: 500 tokens cannot have made "Hi".
    expect(answerTokens(chat("Hi", 500))).toBe(2);
    expect(answerTokensPerSecond(chat("Hi", 500), 1_000)).toBe(2);
    // What the usage says when the text bears it out.
    expect(answerTokens(chat("Hello there, how are you?", 7))).toBe(7);
  });

  it("counts a tool call's name and arguments and a completion's text, bytes not characters", () => {
    const call = { type: "function", function: { name: "f", arguments: '{"a":1}' } };
    expect(answerTokens(chat(null, 100, { tool_calls: [call] }))).toBe(8);
    expect(answerTokens({ choices: [{ text: "日本" }], usage: { completion_tokens: 100 } })).toBe(6);
  });

  it("measures nothing from an answer without an honest count", () => {
    for (const tokens of [undefined, "7", -3, 1.5, Number.NaN, null])
      expect(answerTokens(chat("Hello", tokens))).toBe(0);
    expect(answerTokens({ data: [{ embedding: [0.1] }], usage: { prompt_tokens: 3 } })).toBe(0);
    expect(answerTokens(null)).toBe(0);
    expect(answerTokensPerSecond(chat("Hello", 5), 0)).toBeUndefined();
    expect(answerTokensPerSecond(chat("", 5), 1_000)).toBeUndefined();
    expect(answerTokensPerSecond(chat("Hello", 5), 500)).toBe(10);
  });
});
