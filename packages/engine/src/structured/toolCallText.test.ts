import { requestHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { isToolCallText, scanToolCalls, toolCallIds, toolCallText } from "./toolCallText.js";

const calls = [
  { name: "get_weather", arguments: '{"city": "Paris}{[", "days": 3}' },
  { name: "noop", arguments: "{ }" },
];

describe("tool call text", () => {
  it("writes calls as Hermes-style blocks and reads them back, also from any prefix", () => {
    const text = toolCallText(calls);
    expect(text).toBe(
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris}{[", "days": 3}}\n</tool_call>\n' +
        '<tool_call>\n{"name": "noop", "arguments": { }}\n</tool_call>',
    );
    expect(isToolCallText(text)).toBe(true);
    expect(scanToolCalls(text)).toEqual(calls.map((call) => ({ ...call, complete: true })));
    let previous: { name: string; arguments: string }[] = [];
    for (let end = 0; end <= text.length; end++) {
      const read = scanToolCalls(text.slice(0, end));
      // A reading only grows: names never change, arguments only get longer.
      for (const [i, call] of previous.entries()) {
        expect(read[i]?.name).toBe(call.name);
        expect(read[i]?.arguments.startsWith(call.arguments)).toBe(true);
      }
      previous = read;
    }
  });

  it("derives call ids from the request hash, the same for the same body in any key order", () => {
    const body = { model: "m", messages: [{ role: "user", content: "hi" }] };
    const reordered = { messages: [{ content: "hi", role: "user" }], model: "m" };
    expect(requestHash(reordered)).toBe(requestHash(body));
    const ids = toolCallIds(body);
    expect(ids(0)).toMatch(/^call_[0-9a-f]{24}$/);
    expect(toolCallIds(reordered)(0)).toBe(ids(0));
    expect(ids(1)).not.toBe(ids(0));
    expect(toolCallIds({ ...body, seed: 1 })(0)).not.toBe(ids(0));
  });
});
