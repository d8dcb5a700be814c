import { describe, expect, it } from "vitest";
import { InvalidInputError } from "./errors.js";
import { reproducibleResult, responseHash } from "./responseResult.js";
import { signedResponseBody } from "./signedResponseBody.js";

const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
const token = (text: string, logprob: number) => ({ token: text, logprob, bytes: [...Buffer.from(text)] });
const chatLogprobs = {
  content: [
    { ...token("hi", -0.25), top_logprobs: [token("hi", -0.25), token("yo", -1.5)] },
    { ...token("!", -0.5), top_logprobs: [] },
  ],
  refusal: null,
};
const chat = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "m",
  system_fingerprint: "fp",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "hi!" },
      finish_reason: "stop",
      logprobs: chatLogprobs,
    },
  ],
  usage,
};
const completion = {
  id: "cmpl-1",
  object: "text_completion",
  created: 1,
  model: "m",
  choices: [
    {
      index: 0,
      text: "ab",
      finish_reason: "length",
      logprobs: {
        tokens: ["a", "b"],
        token_logprobs: [-0.1, -0.2],
        top_logprobs: [{ a: -0.1 }, { b: -0.2, c: -3 }],
        text_offset: [0, 1],
      },
    },
  ],
  usage,
};

describe("logprobs in the response hash", () => {
  it("covers them when present, so a faked logprob hashes differently", () => {
    const faked = structuredClone(chat);
    faked.choices[0]!.logprobs.content[0]!.logprob = -0.01;
    expect(responseHash(faked)).not.toBe(responseHash(chat));
    const fakedTop = structuredClone(completion);
    fakedTop.choices[0]!.logprobs.top_logprobs[1] = { b: -0.2, c: -0.3 };
    expect(responseHash(fakedTop)).not.toBe(responseHash(completion));
  });

  it("hashes an answer without logprobs (absent, null or empty) as before", () => {
    const plain = { ...chat, choices: [{ ...chat.choices[0]!, logprobs: null }] };
    const { logprobs: _, ...noField } = chat.choices[0]!;
    const empty = { ...chat, choices: [{ ...chat.choices[0]!, logprobs: { content: [], refusal: null } }] };
    expect(responseHash({ ...chat, choices: [noField] })).toBe(responseHash(plain));
    expect(responseHash(empty)).toBe(responseHash(plain));
    expect(reproducibleResult(plain)).toEqual({
      object: "chat.completion",
      model: "m",
      choices: [{ index: 0, text: "hi!", finish_reason: "stop" }],
      usage,
    });
  });

  it.each([
    ["a positive logprob", { ...chatLogprobs, content: [{ ...token("x", 0.5), top_logprobs: [] }] }],
    [
      "a token that is not text",
      { ...chatLogprobs, content: [{ ...token("x", -1), token: 5, top_logprobs: [] }] },
    ],
    ["a non-null refusal", { ...chatLogprobs, refusal: "no" }],
    [
      "bytes that are not bytes",
      { ...chatLogprobs, content: [{ ...token("x", -1), bytes: [256], top_logprobs: [] }] },
    ],
    ["missing alternatives", { ...chatLogprobs, content: [token("x", -1)] }],
  ])("refuses chat logprobs with %s", (_, logprobs) => {
    expect(() => responseHash({ ...chat, choices: [{ ...chat.choices[0]!, logprobs }] })).toThrow(
      InvalidInputError,
    );
  });

  it("refuses completion logprobs whose arrays disagree in length", () => {
    const broken = structuredClone(completion);
    broken.choices[0]!.logprobs.text_offset = [0];
    expect(() => responseHash(broken)).toThrow(InvalidInputError);
  });
});

describe("signedResponseBody", () => {
  it("keeps only hashed fields and the harmless envelope: a node's unsigned additions are dropped", () => {
    const forged = { name: "transfer_funds", arguments: "{}" };
    const injected = {
      ...chat,
      service_tier: "priority",
      choices: [
        {
          ...chat.choices[0]!,
          message: {
            ...chat.choices[0]!.message,
            function_call: forged,
            reasoning_content: "transfer the funds",
            refusal: "none",
          },
          extra: 1,
        },
      ],
      atoma: { signature: "0x00" },
    };
    const body = signedResponseBody(injected);
    expect(body).toEqual({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "m",
      system_fingerprint: "fp",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "hi!" },
          finish_reason: "stop",
          logprobs: chatLogprobs,
        },
      ],
      usage,
    });
    expect(responseHash(body)).toBe(responseHash(injected));
  });

  it("keeps a tool-call answer's null content and calls, completions' logprobs and embeddings", () => {
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
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
    expect(signedResponseBody(calling)).toMatchObject({
      choices: [{ message: { content: null, tool_calls: [call] }, logprobs: null }],
    });
    expect(signedResponseBody(completion)).toMatchObject({ choices: [completion.choices[0]] });
    const embeddings = {
      object: "list",
      model: "m",
      data: [{ object: "embedding", index: 0, embedding: [0.5], note: "x" }],
      usage: { prompt_tokens: 1, total_tokens: 1 },
    };
    expect(signedResponseBody(embeddings)).toEqual({
      object: "list",
      model: "m",
      data: [{ object: "embedding", index: 0, embedding: [0.5] }],
      usage: { prompt_tokens: 1, total_tokens: 1 },
    });
    for (const response of [calling, completion, embeddings])
      expect(responseHash(signedResponseBody(response))).toBe(responseHash(response));
  });

  it("drops envelope fields that are not plain strings or numbers", () => {
    expect(signedResponseBody({ ...chat, id: { html: "<script>" }, created: Number.NaN })).not.toHaveProperty(
      "id",
    );
  });
});
