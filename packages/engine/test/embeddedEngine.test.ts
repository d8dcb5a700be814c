import { deriveSeed, requestHash, responseHash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import {
  ContextLengthExceededError,
  InvalidRequestError,
  ModelNotFoundError,
  UnsupportedParameterError,
} from "../src/errors.js";
import { chatBody, completionBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine();
});
afterAll(() => engine.stop());

describe("embedded engine: chat and completions", () => {
  it("answers a chat in OpenAI's shape with exact usage", async () => {
    const body = chatBody("Say something.", { max_tokens: 40, seed: 3 });
    const { response, generation } = await engine.chat(body);
    expect(response.object).toBe("chat.completion");
    expect(response.model).toBe(TINY);
    expect(response.choices[0]?.message.role).toBe("assistant");
    const prompt = await engine.tokenize({ model: TINY, messages: body.messages });
    expect(response.usage.prompt_tokens).toBe(prompt.count);
    expect(generation.promptTokenIds).toEqual(prompt.tokens);
    expect(response.usage.completion_tokens).toBe(generation.completionTokenIds?.length);
    expect(response.usage.total_tokens).toBe(response.usage.prompt_tokens + response.usage.completion_tokens);
    expect(response.usage.completion_tokens).toBeLessThanOrEqual(40);
    expect(generation.sampling).toMatchObject({ seed: 3, temperature: 1, topP: 1, topK: 40, minP: 0 });
  });

  it("renders chats through the GGUF's chat template", async () => {
    const tokens = await engine.tokenize({ model: TINY, messages: [{ role: "user", content: "hi" }] });
    // <s> <|im_start|> u s e r \n h i <|im_end|> \n <|im_start|> a s s i s t a n t \n
    expect(tokens.tokens.slice(0, 2)).toEqual([1, 3]);
    expect(tokens.count).toBe(2 + 4 + 1 + 2 + 1 + 1 + 1 + 9 + 1);
  });

  it("gives the same tokens for the same request, another output for another seed", async () => {
    const body = completionBody("Once upon a time", { max_tokens: 48, temperature: 0.9, ignore_eos: true });
    const first = await engine.complete({ ...body, seed: 11 });
    const again = await engine.complete({ ...body, seed: 11 });
    const other = await engine.complete({ ...body, seed: 12 });
    expect(again.generation.completionTokenIds).toEqual(first.generation.completionTokenIds);
    expect(responseHash(again.response)).toBe(responseHash(first.response));
    expect(other.generation.completionTokenIds).not.toEqual(first.generation.completionTokenIds);
  });

  it("derives the seed from the request hash when the request names none", async () => {
    const body = completionBody("Derive a seed", { max_tokens: 8 });
    const { generation } = await engine.complete(body);
    expect(generation.sampling.seed).toBe(deriveSeed(requestHash(body)));
  });

  it("defaults text completions to 16 tokens and chats to the rest of the context", async () => {
    const completion = await engine.complete(completionBody("Hello", { ignore_eos: true }));
    expect(completion.generation.maxTokens).toBe(16);
    expect(completion.response.usage.completion_tokens).toBe(16);
    expect(completion.response.choices[0]?.finish_reason).toBe("length");
    const chat = await engine.chat(chatBody("Hi", { seed: 1 }));
    expect(chat.generation.maxTokens).toBe(1024 - chat.response.usage.prompt_tokens);
  });

  it("stops at an end-of-generation token and counts it", async () => {
    let ended = false;
    for (let seed = 0; seed < 20 && !ended; seed++) {
      const { response, generation } = await engine.complete(
        completionBody("The end", { max_tokens: 200, seed }),
      );
      if (response.choices[0]?.finish_reason !== "stop") continue;
      const last = generation.completionTokenIds?.at(-1);
      expect([2, 4]).toContain(last); // </s> or <|im_end|>
      expect(response.usage.completion_tokens).toBe(generation.completionTokenIds?.length);
      ended = true;
    }
    expect(ended).toBe(true);
  });

  it("cuts the text at the first stop sequence", async () => {
    const base = completionBody("A stop test:", {
      max_tokens: 60,
      seed: 5,
      temperature: 0.8,
      ignore_eos: true,
    });
    const full = (await engine.complete(base)).response.choices[0]!.text;
    expect(full.length).toBeGreaterThan(20);
    const stop = full.slice(10, 13);
    const { response } = await engine.complete({ ...base, stop: [stop, "\u0000never"] });
    expect(response.choices[0]?.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(response.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams exactly the text and usage of the non-streaming response", async () => {
    for (const extra of [{ seed: 9 }, { seed: 21, stop: ["e"] }, { seed: 4, temperature: 0 }]) {
      const body = chatBody("Stream please", {
        max_tokens: 64,
        stream_options: { include_usage: true },
        ...extra,
      });
      const whole = await engine.chat(body);
      const stream = await engine.streamChat(body);
      let text = "";
      let finish: string | null = null;
      let usage: unknown;
      let role: string | undefined;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        role ??= choice?.delta.role;
        text += choice?.delta.content ?? "";
        finish = choice?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      const streamed = await stream.result;
      expect(role).toBe("assistant");
      expect(text).toBe(whole.response.choices[0]?.message.content);
      expect(finish).toBe(whole.response.choices[0]?.finish_reason);
      expect(usage).toEqual(whole.response.usage);
      expect(responseHash(streamed.response)).toBe(responseHash(whole.response));
    }
  });

  it("streams text completions the same way", async () => {
    const body = completionBody("Stream", { max_tokens: 30, seed: 2, ignore_eos: true });
    const whole = await engine.complete(body);
    const stream = await engine.streamComplete(body);
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(whole.response.choices[0]?.text);
    expect(responseHash((await stream.result).response)).toBe(responseHash(whole.response));
  });

  it("generates from a prepared request exactly what it generates from the body, tokenizing once", async () => {
    const chat = chatBody("Prepare me", { max_tokens: 24, seed: 6 });
    const text = completionBody("Prepared", { max_tokens: 20, temperature: 0.8, ignore_eos: true });
    const preparedChat = await engine.prepare(chat, "chat");
    const preparedText = await engine.prepare(text, "completion");
    const prompt = await engine.tokenize({ model: TINY, messages: chat.messages });
    expect(preparedChat.promptTokens).toEqual(prompt.tokens);
    expect(preparedChat.promptTokenCount).toBe(prompt.count);
    expect(preparedChat.maxModelLen).toBe(1024);

    const prompts = engine.modelFor(TINY).prompts;
    const tokenizeChat = vi.spyOn(prompts, "chatTokens");
    const tokenizeText = vi.spyOn(prompts, "textTokens");
    try {
      const fromPrepared = [
        await engine.chat(preparedChat),
        await (await engine.streamChat(preparedChat)).collect(),
        await engine.complete(preparedText),
        await (await engine.streamComplete(preparedText)).collect(),
      ];
      expect(tokenizeChat).not.toHaveBeenCalled();
      expect(tokenizeText).not.toHaveBeenCalled();
      const fromBody = [
        await engine.chat(chat),
        await engine.chat(chat),
        await engine.complete(text),
        await engine.complete(text),
      ];
      expect(tokenizeChat).toHaveBeenCalledTimes(2);
      expect(tokenizeText).toHaveBeenCalledTimes(2);
      for (const [i, result] of fromPrepared.entries()) {
        expect(result.generation).toEqual(fromBody[i]!.generation);
        expect(responseHash(result.response)).toBe(responseHash(fromBody[i]!.response));
      }
    } finally {
      tokenizeChat.mockRestore();
      tokenizeText.mockRestore();
    }
    // The context check stays with generation.
    const tooLong = await engine.prepare(completionBody("x", { max_tokens: 5000 }), "completion");
    await expect(engine.complete(tooLong)).rejects.toBeInstanceOf(ContextLengthExceededError);
  });

  it("rejects bad requests with named errors before any work", async () => {
    await expect(engine.chat({ ...chatBody("x"), model: "nope" })).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(engine.chat({ model: TINY, messages: [] })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(engine.chat(chatBody("x", { temperature: 5 }))).rejects.toMatchObject({
      param: "temperature",
    });
    await expect(engine.chat(chatBody("x", { n: 2 }))).rejects.toBeInstanceOf(UnsupportedParameterError);
    await expect(engine.complete(completionBody("x", { logit_bias: { "5": 1 } }))).rejects.toBeInstanceOf(
      UnsupportedParameterError,
    );
    await expect(engine.complete(completionBody("x", { seed: -1 }))).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    await expect(engine.complete(completionBody("x".repeat(2000)))).rejects.toBeInstanceOf(
      ContextLengthExceededError,
    );
    await expect(engine.complete(completionBody("x", { max_tokens: 5000 }))).rejects.toBeInstanceOf(
      ContextLengthExceededError,
    );
  });

  it("lists its models and reports health", async () => {
    expect(await engine.models()).toEqual([
      { id: TINY, object: "model", created: 0, owned_by: "atoma", max_model_len: 1024 },
    ]);
    expect(await engine.health()).toMatchObject({
      ok: true,
      models: [TINY],
      load: { running: 0, waiting: 0 },
    });
  });
});

describe("embedded engine: weights root", () => {
  it("loads a model whose root matches and refuses one whose root differs", async () => {
    const { ensureTinyModel } = await import("../src/tinyModel/tinyModelCache.js");
    const { weightsRoot } = await import("../src/weights/weightsRoot.js");
    const { WeightsRootMismatchError } = await import("../src/errors.js");
    const file = ensureTinyModel();
    const root = await weightsRoot(file.path);
    const good = await startTinyEngine({ models: [{ id: "checked", path: file.path, weightsRoot: root }] });
    expect((await good.models())[0]?.id).toBe("checked");
    await good.stop();
    await expect(
      startTinyEngine({ models: [{ id: "checked", path: file.path, weightsRoot: `0x${"ab".repeat(32)}` }] }),
    ).rejects.toBeInstanceOf(WeightsRootMismatchError);
  });
});
