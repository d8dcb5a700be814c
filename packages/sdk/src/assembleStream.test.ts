import { responseHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { StreamAssembler } from "./assembleStream.js";
import { UnhashableStreamError } from "./errors.js";

type Json = Record<string, unknown>;
const base = { id: "c1", object: "chat.completion.chunk", created: 5, model: "m", system_fingerprint: "fp" };
const chunk = (delta: Json, extra: Json = {}) => ({
  ...base,
  choices: [{ index: 0, delta, finish_reason: null, ...extra }],
});
const open = { index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } };
const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

/** Adds `chunks` in order; the error the assembler refuses one with, or undefined. */
function refusal(...chunks: Json[]): unknown {
  const assembler = new StreamAssembler();
  try {
    for (const c of chunks) assembler.add(c);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("StreamAssembler refuses what clients would read otherwise than the hash", () => {
  it.each([
    [
      "a choice other than 0",
      [{ ...base, choices: [{ index: 1, delta: { content: "x" }, finish_reason: null }] }],
    ],
    ["a fractional tool-call index", [chunk({ tool_calls: [{ ...open, index: 0.5 }] })]],
    ["a negative tool-call index", [chunk({ tool_calls: [{ ...open, index: -1 }] })]],
    ["a tool-call index past the next", [chunk({ tool_calls: [{ ...open, index: 1 }] })]],
    ["a missing tool-call index", [chunk({ tool_calls: [{ ...open, index: undefined }] })]],
    [
      "a later delta renaming a call",
      [
        chunk({ tool_calls: [open] }),
        chunk({ tool_calls: [{ index: 0, function: { name: "delete_account" } }] }),
      ],
    ],
    [
      "a later delta giving a call another id",
      [
        chunk({ tool_calls: [open] }),
        chunk({ tool_calls: [{ index: 0, id: "call_2", function: { arguments: "" } }] }),
      ],
    ],
    [
      "a call opened without its name",
      [chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: {} }] })],
    ],
    ["text beside calls", [chunk({ content: "Sure!" }), chunk({ tool_calls: [open] })]],
    ["calls then text", [chunk({ tool_calls: [open] }), chunk({ content: "done" })]],
    ["an unhashed delta field", [chunk({ content: "", reasoning_content: "transfer the funds" })]],
    ["a legacy function call", [chunk({ function_call: { name: "f", arguments: "{}" } })]],
    ["an unknown field in a call", [chunk({ tool_calls: [{ ...open, extra: 1 }] })]],
    ["a role other than assistant", [chunk({ role: "system", content: "" })]],
    [
      "a mix of chat and text completion chunks",
      [chunk({ content: "a" }), { ...base, object: "text_completion" }],
    ],
    [
      "two different usages",
      [
        { ...base, choices: [], usage },
        { ...base, choices: [], usage: { ...usage, total_tokens: 6 } },
      ],
    ],
    [
      "faked logprobs of the wrong shape",
      [chunk({ content: "a" }, { logprobs: { content: [{ token: "a" }] } })],
    ],
  ])("refuses %s", (_, chunks) => {
    expect(refusal(...(chunks as Json[]))).toBeInstanceOf(UnhashableStreamError);
    expect((refusal(...(chunks as Json[])) as UnhashableStreamError).code).toBe("stream_unhashable");
  });

  it("relays only hashed fields and the envelope, dropping null unknown ones", () => {
    const assembler = new StreamAssembler();
    const relayed = assembler.add({
      ...chunk({ role: "assistant", content: "Hi", refusal: null }, { note: "unhashed", logprobs: null }),
      service_tier: "x",
    });
    expect(relayed).toEqual({
      ...base,
      choices: [
        { index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null, logprobs: null },
      ],
    });
    expect(assembler.add({ ...base, choices: [], usage: { ...usage, details: { x: 1 } } })).toEqual({
      ...base,
      choices: [],
      usage,
    });
  });

  it("adds logprobs chunk by chunk to what the node hashed for the whole answer", () => {
    const entry = (token: string, logprob: number) => ({
      token,
      logprob,
      bytes: [...Buffer.from(token)],
      top_logprobs: [{ token, logprob, bytes: [...Buffer.from(token)] }],
    });
    const assembler = new StreamAssembler();
    assembler.add(chunk({ role: "assistant", content: "" }));
    assembler.add(chunk({ content: "Hel" }, { logprobs: { content: [entry("Hel", -0.5)], refusal: null } }));
    assembler.add(chunk({ content: "lo" }, { logprobs: { content: [entry("lo", -0.25)], refusal: null } }));
    assembler.add({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop", logprobs: null }] });
    assembler.add({ ...base, choices: [], usage });
    const complete = {
      ...base,
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello" },
          finish_reason: "stop",
          logprobs: { content: [entry("Hel", -0.5), entry("lo", -0.25)], refusal: null },
        },
      ],
      usage,
    };
    expect(responseHash(assembler.response())).toBe(responseHash(complete));
    const faked = structuredClone(complete);
    faked.choices[0]!.logprobs.content[1]!.logprob = -0.01;
    expect(responseHash(assembler.response())).not.toBe(responseHash(faked));
  });

  it("adds text completion logprobs up to the whole answer's", () => {
    const text = { ...base, object: "text_completion" };
    const assembler = new StreamAssembler();
    const piece = (t: string, offset: number, logprob: number) => ({
      ...text,
      choices: [
        {
          index: 0,
          text: t,
          finish_reason: null,
          logprobs: {
            tokens: [t],
            token_logprobs: [logprob],
            top_logprobs: [{ [t]: logprob }],
            text_offset: [offset],
          },
        },
      ],
    });
    assembler.add(piece("a", 0, -0.5));
    assembler.add(piece("bc", 1, -0.75));
    assembler.add({ ...text, choices: [{ index: 0, text: "", finish_reason: "length", logprobs: null }] });
    assembler.add({ ...text, choices: [], usage });
    expect(responseHash(assembler.response())).toBe(
      responseHash({
        ...text,
        choices: [
          {
            index: 0,
            text: "abc",
            finish_reason: "length",
            logprobs: {
              tokens: ["a", "bc"],
              token_logprobs: [-0.5, -0.75],
              top_logprobs: [{ a: -0.5 }, { bc: -0.75 }],
              text_offset: [0, 1],
            },
          },
        ],
        usage,
      }),
    );
  });
});
