import { describe, expect, it } from "vitest";
import { InvalidInputError } from "./errors.js";
import { reproducibleResult, responseHash, resultBytes, SEALED_ANSWER_OBJECT } from "./responseResult.js";
import { signedResponseBody } from "./signedResponseBody.js";

const chat = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "m",
  system_fingerprint: "fp",
  choices: [
    { index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop", logprobs: null },
  ],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  atoma: { signature: "0x00" },
};

describe("reproducibleResult", () => {
  it("keeps only what recomputation reproduces", () => {
    expect(reproducibleResult(chat)).toEqual({
      object: "chat.completion",
      model: "m",
      choices: [{ index: 0, text: "hello", finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
  });

  it("hashes equal results equally whatever their ids, timestamps and signatures", () => {
    const other = { ...chat, id: "chatcmpl-2", created: 2, atoma: { signature: "0x01" } };
    expect(responseHash(other)).toBe(responseHash(chat));
    const changed = {
      ...chat,
      choices: [{ ...chat.choices[0], message: { role: "assistant", content: "hellp" } }],
    };
    expect(responseHash(changed)).not.toBe(responseHash(chat));
  });

  it("treats a null chat content as empty text", () => {
    const toolOnly = {
      ...chat,
      choices: [{ index: 0, message: { role: "assistant", content: null }, finish_reason: "stop" }],
    };
    expect(reproducibleResult(toolOnly)).toMatchObject({ choices: [{ text: "" }] });
  });

  it("keeps a chat answer's tool calls, so a faked call hashes differently; answers without calls hash as before", () => {
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: '{"x": 1}' } };
    const calling = {
      ...chat,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: null, tool_calls: [call] },
          finish_reason: "tool_calls",
        },
      ],
    };
    expect(reproducibleResult(calling)).toMatchObject({
      choices: [{ index: 0, text: "", finish_reason: "tool_calls", tool_calls: [call] }],
    });
    const faked = structuredClone(calling);
    faked.choices[0]!.message.tool_calls[0]!.function.arguments = '{"x": 2}';
    expect(responseHash(faked)).not.toBe(responseHash(calling));
    const noCalls = {
      ...chat,
      choices: [{ ...chat.choices[0], message: { ...chat.choices[0]!.message, tool_calls: [] } }],
    };
    expect(responseHash(noCalls)).toBe(responseHash(chat));
    expect(() =>
      reproducibleResult({
        ...calling,
        choices: [{ ...calling.choices[0], message: { content: null, tool_calls: [{ id: "x" }] } }],
      }),
    ).toThrow(InvalidInputError);
  });

  it("handles text completions and embeddings", () => {
    expect(
      reproducibleResult({
        object: "text_completion",
        model: "m",
        choices: [{ index: 0, text: "x", finish_reason: "length" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    ).toMatchObject({ choices: [{ text: "x" }] });
    expect(
      reproducibleResult({
        object: "list",
        model: "m",
        data: [{ object: "embedding", index: 0, embedding: [0.5] }],
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    ).toEqual({
      object: "embedding",
      model: "m",
      data: [{ index: 0, embedding: [0.5] }],
      usage: { prompt_tokens: 1, total_tokens: 1 },
    });
  });

  it.each([
    ["not an object", 5],
    ["an unknown object type", { ...chat, object: "image" }],
    ["negative usage", { ...chat, usage: { prompt_tokens: -1, completion_tokens: 1, total_tokens: 0 } }],
    ["choices that are not an array", { ...chat, choices: {} }],
    [
      "an embedding with a non-number",
      {
        object: "list",
        model: "m",
        data: [{ index: 0, embedding: ["a"] }],
        usage: { prompt_tokens: 1, total_tokens: 1 },
      },
    ],
  ])("rejects %s", (_, value) => {
    expect(() => reproducibleResult(value)).toThrow(InvalidInputError);
  });
});

describe("a sealed confidential answer", () => {
  const sealed = {
    object: SEALED_ANSWER_OBJECT,
    chunks: ["0x00aa", "0x01bb"],
    usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
  };

  it("hashes its chunks and usage only, the usage last in the result bytes (what ReceiptFraud reads)", () => {
    expect(responseHash({ ...sealed, id: "x", created: 1 })).toBe(responseHash(sealed));
    expect(responseHash({ ...sealed, chunks: ["0x01bb", "0x00aa"] })).not.toBe(responseHash(sealed));
    expect(new TextDecoder().decode(resultBytes(sealed))).toMatch(
      /"usage":\{"completion_tokens":7,"prompt_tokens":5,"total_tokens":12\}\}$/,
    );
    expect(signedResponseBody(sealed)).toEqual(sealed);
  });

  it("refuses chunks that are not lowercase hex, or none at all", () => {
    for (const chunks of [[], ["0xAA"], ["aa"], [1], ["0x0"]])
      expect(() => responseHash({ ...sealed, chunks })).toThrow(InvalidInputError);
  });
});
