import { describe, expect, it } from "vitest";
import { answerBytesPerSecond, generatedBytes } from "./answerThroughput.js";

const chat = (content: unknown, completionTokens: unknown, extra: Record<string, unknown> = {}) => ({
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content, ...extra }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: completionTokens, total_tokens: 5 },
});

describe("answerBytesPerSecond: the bytes of answer a verified answer shows, per second", () => {
  it("does not take the node's word for its output: a usage claiming more, or none, leaves the figure as is", () => {
    // "Hello" is 5 bytes in half a second, whatever the node says it counted.
    for (const tokens of [5, 500, 0, undefined, "7", -3, null])
      expect(answerBytesPerSecond(chat("Hello", tokens), 500)).toBe(10);
  });

  it("counts a tool call's name and arguments and a completion's text, bytes not characters", () => {
    const call = { type: "function", function: { name: "f", arguments: '{"a":1}' } };
    expect(generatedBytes(chat(null, 100, { tool_calls: [call] }))).toBe(8);
    expect(generatedBytes({ choices: [{ text: "日本" }], usage: { completion_tokens: 100 } })).toBe(6);
  });

  it("measures nothing from an answer that generated nothing, or in no time", () => {
    expect(answerBytesPerSecond({ data: [{ embedding: [0.1] }], usage: { prompt_tokens: 3 } }, 100)).toBe(
      undefined,
    );
    expect(answerBytesPerSecond(null, 100)).toBeUndefined();
    expect(answerBytesPerSecond(chat("Hello", 5), 0)).toBeUndefined();
    expect(answerBytesPerSecond(chat("", 5), 1_000)).toBeUndefined();
  });
});
