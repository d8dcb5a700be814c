import { silentLogger } from "@atoma/core";
import { keccak256 } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { InvalidRequestError } from "../src/errors.js";
import { parseChatRequest } from "../src/openai/requests.js";
import type { ChatCompletion, ChatCompletionChunk } from "../src/openai/responses.js";
import { toolCallText } from "../src/structured/toolCallText.js";
import { ensureTinyModel } from "../src/tinyModel/tinyModelCache.js";
import { writeTinyModel } from "../src/tinyModel/writeTinyModel.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import { testLlama } from "./helpers/llama.js";
import { SEARCH, validates, WEATHER } from "./helpers/toolRequests.js";

/** The tiny model with the Llama-3.1-style template: another chat template, another tool-call format. */
const LLAMA3 = "atoma-tiny-llama3";
let engine: EmbeddedEngine;
beforeAll(async () => {
  const file = ensureTinyModel({ template: "llama3" });
  expect(file.id).toBe(LLAMA3);
  engine = new EmbeddedEngine(
    { logger: silentLogger, llama: await testLlama() },
    { models: [{ id: file.id, path: file.path }], threads: 1, contextSize: 2048 },
  );
  await engine.start();
});
afterAll(() => engine.stop());

const TOOLS = { get_weather: WEATHER, search: SEARCH } as Record<string, typeof WEATHER | typeof SEARCH>;
const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: LLAMA3,
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content },
  ],
  ...extra,
});
const toolChat = (extra: Record<string, unknown> = {}) =>
  chat("What is the weather in Paris?", { tools: [WEATHER, SEARCH], max_tokens: 300, ...extra });
const choiceOf = (response: ChatCompletion) => response.choices[0]!;

function expectValidCalls(response: ChatCompletion) {
  const calls = choiceOf(response).message.tool_calls ?? [];
  for (const call of calls) {
    const tool = TOOLS[call.function.name];
    expect(tool, call.function.name).toBeDefined();
    expect(validates(tool!.function.parameters, call.function.arguments)).toBe(true);
  }
  return calls;
}

describe("a model with a Llama-3.1-style chat template", () => {
  it("is written deterministically, apart from the ChatML model, and read as the Llama 3 dialect", () => {
    const a = writeTinyModel({ template: "llama3" });
    expect(Buffer.from(a).equals(Buffer.from(writeTinyModel({ template: "llama3" })))).toBe(true);
    expect(keccak256(a)).not.toBe(keccak256(writeTinyModel()));
    expect(engine.toolDialect(LLAMA3).name).toBe("llama3");
  });

  it("chats through its own template: header tokens, no ChatML", async () => {
    const prompt = engine.modelFor(LLAMA3).prompts.renderChat(parseChatRequest(chat("Hello")));
    expect(prompt).toBe(
      "<s><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    const { response } = await engine.chat(chat("Hello", { seed: 1, max_tokens: 30 }));
    expect(typeof choiceOf(response).message.content).toBe("string");
    expect(["stop", "length"]).toContain(choiceOf(response).finish_reason);
  });

  it("gives the tools to the template, which renders them in the system turn (not as <tools> text)", () => {
    const prompt = engine.modelFor(LLAMA3).prompts.renderChat(parseChatRequest(toolChat()));
    expect(prompt).toContain("Environment: ipython");
    // In canonical JSON's key order: a verifier reads the body as canonical JSON.
    expect(prompt).toContain('{"function": {"description": "The weather in a city');
    expect(prompt).not.toContain("<tools>");
  });

  it('tool_choice "required": calls in its format, {"name": …, "parameters": …}, arguments valid', async () => {
    for (let seed = 0; seed < 8; seed++) {
      const request = toolChat({ tool_choice: "required", seed });
      const { response, generation } = await engine.chat(request);
      expect(choiceOf(response).finish_reason).toBe("tool_calls");
      const calls = expectValidCalls(response);
      expect(calls.length).toBeGreaterThan(0);
      const replayed = await engine.replay(request, claimFromResponse(response, engine.toolDialect(LLAMA3)));
      expect(replayed.match).toBe(true);
      expect(replayed.expected.text.startsWith(`{"name": "${calls[0]!.function.name}", "parameters": `)).toBe(
        true,
      );
      expect(replayed.expected.tokenIds).toEqual(generation.completionTokenIds);
    }
  });

  it("a named function is the one call, its arguments of its strict schema's shape", async () => {
    for (let seed = 0; seed < 6; seed++) {
      const { response } = await engine.chat(
        toolChat({ tool_choice: { type: "function", function: { name: "get_weather" } }, seed }),
      );
      const calls = choiceOf(response).message.tool_calls ?? [];
      expect(calls.map((call) => call.function.name)).toEqual(["get_weather"]);
      // (maxLength is not checked here: byte-fallback tokens can spell invalid UTF-8 that reads as U+FFFD.)
      expect(Object.keys(JSON.parse(calls[0]!.function.arguments))).toEqual(["city", "days", "unit"]);
    }
  });

  it('tool_choice "auto": calls, or a text answer that does not start with "{"', async () => {
    for (let seed = 0; seed < 8; seed++) {
      const { response } = await engine.chat(toolChat({ seed }));
      const choice = choiceOf(response);
      if (choice.message.tool_calls) expectValidCalls(response);
      else expect(choice.message.content?.startsWith("{")).toBe(false);
    }
  });

  it("answers a JSON schema, and refuses a JSON answer beside tool_choice auto (its calls are JSON too)", async () => {
    const schema = {
      type: "object",
      properties: { answer: { type: "string", maxLength: 8 }, sure: { type: "boolean" } },
      required: ["answer", "sure"],
      additionalProperties: false,
    };
    const response_format = { type: "json_schema", json_schema: { name: "a", schema, strict: true } };
    for (let seed = 0; seed < 4; seed++) {
      const { response } = await engine.chat(chat("JSON please", { response_format, seed }));
      expect(validates(schema, choiceOf(response).message.content!)).toBe(true);
    }
    const both = toolChat({ response_format });
    expect(() => engine.generationFor(both, "chat")).toThrow(InvalidRequestError);
    const required = await engine.chat(toolChat({ response_format, tool_choice: "required", seed: 2 }));
    expect(expectValidCalls(required.response).length).toBeGreaterThan(0);
  });

  it("streams the same calls as the whole answer", async () => {
    const request = toolChat({ tool_choice: "required", seed: 5 });
    const whole = (await engine.chat(request)).response;
    const stream = await engine.streamChat(request);
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect((await stream.result).response.choices[0]).toEqual(whole.choices[0]);
  });

  it("renders a follow-up turn's calls and results through the template, as the model writes them", async () => {
    const first = (await engine.chat(toolChat({ tool_choice: "required", seed: 3 }))).response;
    const message = choiceOf(first).message;
    const followUp = toolChat({
      seed: 3,
      max_tokens: 20,
      messages: [
        ...toolChat().messages,
        message,
        ...message.tool_calls!.map((call) => ({
          role: "tool",
          tool_call_id: call.id,
          content: '{"temp": 21}',
        })),
      ],
    });
    const prompt = engine.modelFor(LLAMA3).prompts.renderChat(parseChatRequest(followUp));
    const call = message.tool_calls![0]!.function;
    // The template writes the arguments again with its own `tojson` spacing.
    const written = toolCallText([{ name: call.name, arguments: "{" }], engine.toolDialect(LLAMA3)).slice(
      0,
      -1,
    );
    expect(prompt).toContain(`<|start_header_id|>assistant<|end_header_id|>\n\n${written}`);
    expect(prompt).toContain('<|start_header_id|>ipython<|end_header_id|>\n\n{"temp": 21}<|eot_id|>');
    const { response } = await engine.chat(followUp);
    expect(response.usage.prompt_tokens).toBeGreaterThan(first.usage.prompt_tokens);
  });

  it("catches a faked tool call (other arguments, valid for the tool) on replay and by score", async () => {
    const dialect = engine.toolDialect(LLAMA3);
    const model = engine.modelFor(LLAMA3).model;
    for (let seed = 0; seed < 4; seed++) {
      const request = toolChat({ tool_choice: "required", seed, temperature: 0.8 });
      const honest = (await engine.chat(request)).response;
      const call = choiceOf(honest).message.tool_calls![0]!.function;
      const arguments_ =
        call.name === "search" ? '{"terms": ["x"]}' : '{"city": "Paris", "days": 3, "unit": "c"}';
      const text = toolCallText([{ name: call.name, arguments: arguments_ }], dialect);
      const tokens = [...model.tokenize(text, false), model.tokens.eos!];
      const faked: Claim = { text, finishReason: "stop", completionTokens: tokens.length };
      const replayed = await engine.replay(request, faked);
      expect(replayed.match).toBe(false);
      expect(replayed.difference?.field).toBe("text");
      expect((await engine.score(request, { ...faked, tokenIds: tokens })).accepted).toBe(false);
    }
  });
});
