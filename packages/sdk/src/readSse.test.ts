import { responseHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { StreamAssembler } from "./assembleStream.js";
import { readSse } from "./readSse.js";

function streamOf(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
}

describe("reading a stream", () => {
  it("yields each event's JSON across arbitrary splits, and stops at [DONE]", async () => {
    const events: unknown[] = [];
    for await (const event of readSse(
      streamOf('data: {"a":', '1}\n\ndata: {"b":2}\n', "\ndata: [DONE]\n\n", "data: {}"),
    ))
      events.push(event);
    expect(events).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it("adds chat chunks up to the response the node hashed", () => {
    const base = { id: "c1", object: "chat.completion.chunk", created: 5, model: "m" };
    const assembler = new StreamAssembler();
    assembler.add({
      ...base,
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
    });
    assembler.add({ ...base, choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] });
    assembler.add({ ...base, choices: [{ index: 0, delta: { content: "lo" }, finish_reason: null }] });
    assembler.add({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "length" }] });
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    assembler.add({ ...base, choices: [], usage });
    const complete = {
      id: "c1",
      object: "chat.completion",
      created: 5,
      model: "m",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello" },
          finish_reason: "length",
          logprobs: null,
        },
      ],
      usage,
    };
    expect(responseHash(assembler.response())).toBe(responseHash(complete));
  });

  it("adds tool-call deltas up to the calls the node hashed", () => {
    const base = { id: "c2", object: "chat.completion.chunk", created: 5, model: "m" };
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const assembler = new StreamAssembler();
    assembler.add(chunk({ role: "assistant", content: "" }));
    assembler.add(
      chunk({
        tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "f", arguments: '{"x' } }],
      }),
    );
    assembler.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '": 1}' } }] }));
    assembler.add(
      chunk({
        tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "g", arguments: "{}" } }],
      }),
    );
    assembler.add(chunk({}, "tool_calls"));
    const usage = { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 };
    assembler.add({ ...base, choices: [], usage });
    const complete = {
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_a", type: "function", function: { name: "f", arguments: '{"x": 1}' } },
              { id: "call_b", type: "function", function: { name: "g", arguments: "{}" } },
            ],
          },
          finish_reason: "tool_calls",
          logprobs: null,
        },
      ],
      usage,
    };
    expect(responseHash(assembler.response())).toBe(responseHash(complete));
    const other = structuredClone(complete);
    other.choices[0]!.message.tool_calls[0]!.function.arguments = '{"x": 2}';
    expect(responseHash(assembler.response())).not.toBe(responseHash(other));
  });
});

describe("reading a hostile stream", () => {
  it("stops at an event longer than its bound, having read little more than it", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 65_536;
        controller.enqueue(new TextEncoder().encode("a".repeat(65_536)));
      },
    });
    const read = async () => {
      for await (const _ of readSse(body, { maxEventBytes: 256 * 1024 })) {
        // never reached: no event ends
      }
    };
    await expect(read()).rejects.toMatchObject({ code: "answer_too_large" });
    expect(pulled).toBeLessThan(512 * 1024);
  });

  it("stops at a stream past its total bound, however small its events", async () => {
    const events = Array.from({ length: 100 }, () => 'data: {"a":1}\n\n');
    const read = async () => {
      let count = 0;
      for await (const _ of readSse(streamOf(...events), { maxTotalBytes: 500 })) count++;
      return count;
    };
    await expect(read()).rejects.toMatchObject({ code: "answer_too_large" });
  });

  it("finds events split anywhere, one byte at a time", async () => {
    const text = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    const events: unknown[] = [];
    for await (const event of readSse(streamOf(...text.split("")))) events.push(event);
    expect(events).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
