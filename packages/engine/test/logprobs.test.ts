import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { InvalidRequestError } from "../src/errors.js";
import type { ChatCompletionChunk, ChatLogprobs } from "../src/openai/responses.js";
import { chatBody, completionBody, startTinyEngine } from "./helpers/tinyEngine.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine();
});
afterAll(() => engine.stop());

const EOG = [2, 4]; // </s>, <|im_end|>

describe("logprobs", () => {
  it("chat: one entry per generated token (a final end-of-generation token left out), alternatives best first; the same tokens as without", async () => {
    for (let seed = 0; seed < 6; seed++) {
      const plain = await engine.chat(chatBody("Say something.", { seed, max_tokens: 30 }));
      const { response, generation } = await engine.chat(
        chatBody("Say something.", { seed, max_tokens: 30, logprobs: true, top_logprobs: 3 }),
      );
      expect(generation.completionTokenIds).toEqual(plain.generation.completionTokenIds);
      const content = response.choices[0]!.logprobs!.content;
      const tokens = generation.completionTokenIds!.filter(
        (token, i, all) => !(i === all.length - 1 && EOG.includes(token)),
      );
      expect(content).toHaveLength(tokens.length);
      for (const entry of content) {
        expect(entry.logprob).toBeLessThanOrEqual(0);
        expect(entry.top_logprobs.length).toBeLessThanOrEqual(3);
        const alternatives = entry.top_logprobs.map((alternative) => alternative.logprob);
        expect(alternatives).toEqual([...alternatives].sort((a, b) => b - a));
      }
      // The bytes of the tokens spell the answer (byte-fallback tokens are one byte each).
      const bytes = content.flatMap((entry) => entry.bytes);
      expect(Buffer.from(bytes).toString("utf8")).toBe(response.choices[0]!.message.content);
    }
  });

  it("greedy: each token is its step's likeliest", async () => {
    const { response } = await engine.chat(
      chatBody("Be greedy.", { temperature: 0, max_tokens: 20, logprobs: true, top_logprobs: 2 }),
    );
    for (const entry of response.choices[0]!.logprobs!.content) {
      expect(entry.top_logprobs[0]).toEqual({
        token: entry.token,
        logprob: entry.logprob,
        bytes: entry.bytes,
      });
    }
  });

  it("a stream carries the same logprobs, each on the chunk of its tokens", async () => {
    const body = chatBody("Stream them.", { seed: 4, max_tokens: 25, logprobs: true, top_logprobs: 1 });
    const whole = (await engine.chat(body)).response;
    const stream = await engine.streamChat(body);
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const streamed = chunks.flatMap(
      (chunk) => (chunk.choices[0]?.logprobs as ChatLogprobs | null)?.content ?? [],
    );
    expect(streamed).toEqual(whole.choices[0]!.logprobs!.content);
    expect((await stream.result).response.choices[0]!.logprobs).toEqual(whole.choices[0]!.logprobs);
  });

  it("logprobs of a grammar-constrained answer are those of the tokens it allows", async () => {
    const { response } = await engine.chat(
      chatBody("JSON.", {
        response_format: { type: "json_object" },
        seed: 2,
        logprobs: true,
        top_logprobs: 5,
      }),
    );
    for (const entry of response.choices[0]!.logprobs!.content) {
      expect(Number.isFinite(entry.logprob)).toBe(true);
      for (const alternative of entry.top_logprobs) expect(Number.isFinite(alternative.logprob)).toBe(true);
    }
  });

  it("text completions: OpenAI's tokens, token_logprobs, top_logprobs and text_offset, streamed the same", async () => {
    const body = completionBody("Once upon a time", { seed: 7, max_tokens: 12, logprobs: 2 });
    const { response } = await engine.complete(body);
    const logprobs = response.choices[0]!.logprobs!;
    expect(logprobs.tokens).toHaveLength(logprobs.token_logprobs.length);
    expect(logprobs.top_logprobs.every((top) => Object.keys(top).length <= 2)).toBe(true);
    for (let i = 1; i < logprobs.tokens.length; i++)
      expect(logprobs.text_offset[i]).toBe(logprobs.text_offset[i - 1]! + logprobs.tokens[i - 1]!.length);
    const stream = await engine.streamComplete(body);
    const tokens: string[] = [];
    const offsets: number[] = [];
    for await (const chunk of stream) {
      tokens.push(...(chunk.choices[0]?.logprobs?.tokens ?? []));
      offsets.push(...(chunk.choices[0]?.logprobs?.text_offset ?? []));
    }
    expect(tokens).toEqual(logprobs.tokens);
    expect(offsets).toEqual(logprobs.text_offset);
  });

  it("sends usage once, in the last chunk, when stream_options.include_usage is set", async () => {
    const stream = await engine.streamChat(
      chatBody("Usage.", { seed: 1, max_tokens: 5, stream_options: { include_usage: true } }),
    );
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.filter((chunk) => chunk.usage)).toEqual([chunks.at(-1)]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: (await stream.result).response.usage });
  });

  it.each([
    ["top_logprobs without logprobs", () => engine.chat(chatBody("x", { top_logprobs: 2 })), "top_logprobs"],
    [
      "top_logprobs above 20",
      () => engine.chat(chatBody("x", { logprobs: true, top_logprobs: 21 })),
      "top_logprobs",
    ],
    ["a completion asking for 6", () => engine.complete(completionBody("x", { logprobs: 6 })), "logprobs"],
    [
      "a completion's logprobs: true",
      () => engine.complete(completionBody("x", { logprobs: true })),
      "logprobs",
    ],
  ])("refuses %s", async (_, call, param) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
  });
});
