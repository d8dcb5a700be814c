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
});
