import { describe, expect, it } from "vitest";
import { answerBytesPerSecond, generatedBytes } from "./answerThroughput.js";

const CHAT = { model: "m", messages: [{ role: "user", content: "Hi" }], max_tokens: 64 };
const chat = (content: unknown, completionTokens: unknown, extra: Record<string, unknown> = {}) => ({
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content, ...extra }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: completionTokens, total_tokens: 5 },
});

describe("answerBytesPerSecond: the bytes of answer a verified answer shows, per second", () => {
  it("does not take the node's word for its output: a usage claiming more, or none, leaves the figure as is", () => {
    // "Hello" is 5 bytes in half a second, whatever the node says it counted.
    for (const tokens of [5, 500, 0, undefined, "7", -3, null])
      expect(answerBytesPerSecond(chat("Hello", tokens), CHAT, 500)).toBe(10);
  });

  it("counts a tool call's name and arguments and a completion's text, bytes not characters", () => {
    const call = { type: "function", function: { name: "f", arguments: '{"a":1}' } };
    expect(generatedBytes(chat(null, 100, { tool_calls: [call] }), { messages: [] })).toBe(8);
    expect(
      generatedBytes(
        { choices: [{ index: 0, text: "日本" }], usage: { completion_tokens: 100 } },
        { prompt: "x" },
      ),
    ).toBe(6);
  });

  it("measures nothing from an answer that generated nothing, or in no time", () => {
    expect(
      answerBytesPerSecond(
        { data: [{ embedding: [0.1] }], usage: { prompt_tokens: 3 } },
        { input: "x" },
        100,
      ),
    ).toBe(undefined);
    expect(answerBytesPerSecond(null, CHAT, 100)).toBeUndefined();
    expect(answerBytesPerSecond(chat("Hello", 5), CHAT, 0)).toBeUndefined();
    expect(answerBytesPerSecond(chat("", 5), CHAT, 1_000)).toBeUndefined();
  });
});

describe("generatedBytes: only what the caller reads, so a node cannot pad its way up the ranking", () => {
  const request = { model: "m", messages: [{ role: "user", content: "Hi" }], max_tokens: 16 };
  const plain = chat("Hello world", 2);

  it("ignores a `text` beside a chat message's content, and choices past the n the request signed", () => {
    const base = generatedBytes(plain, request);
    expect(base).toBe(11);
    const withText = { choices: [{ index: 0, text: "x".repeat(100), message: { content: "Hello world" } }] };
    expect(generatedBytes(withText, request)).toBe(base);
    const extraChoices = {
      choices: [0, 1, 2, 0].map((index) => ({ index, message: { content: "Hello world" } })),
    };
    expect(generatedBytes(extraChoices, request)).toBe(base);
    expect(generatedBytes(extraChoices, { ...request, n: 2 })).toBe(2 * base);
    // A completion's reader takes `text`, never a message.
    const completion = {
      choices: [{ index: 0, text: "Hello world", message: { content: "y".repeat(100) } }],
    };
    expect(generatedBytes(completion, { model: "m", prompt: "Hi", max_tokens: 16 })).toBe(base);
  });

  it("counts whitespace runs once and no invisible format characters, in content, text and tool-call arguments", () => {
    const padded = chat(`Hello \u200b\u200b\u2060   \n\n\t world${" ".repeat(500)}\ufeff`, 2);
    expect(generatedBytes(padded, request)).toBe(11);
    const call = (args: string) => ({
      choices: [
        { index: 0, message: { content: null, tool_calls: [{ function: { name: "f", arguments: args } }] } },
      ],
    });
    const compact = generatedBytes(call('{"a":[1,2]}'), request);
    expect(compact).toBe(12);
    expect(generatedBytes(call(`{ "a" :\n [ 1 ,\t2 ]${" ".repeat(300)}}`), request)).toBe(compact);
  });

  it("counts no more than 8 bytes a token of the max_tokens × n the request signed", () => {
    const long = chat("w ".repeat(5_000), 2);
    expect(generatedBytes(long, request)).toBe(8 * 16);
    expect(generatedBytes(long, { ...request, max_tokens: 4, max_completion_tokens: 10, n: 1 })).toBe(80);
    // No limit named: the default allowance a client signs (DEFAULT_MAX_TOKENS).
    const { max_tokens: _, ...unbounded } = request;
    expect(generatedBytes(chat("w".repeat(20_000), 2), unbounded)).toBe(8 * 1024);
  });
});
