import { canonicalJson, responseHash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { InvalidRequestError } from "../src/errors.js";
import { parseChatRequest } from "../src/openai/requests.js";
import type { ChatCompletion, ChatCompletionChunk } from "../src/openai/responses.js";
import { chatBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";
import { SEARCH, toolChat, validates, WEATHER } from "./helpers/toolRequests.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine({ contextSize: 2048 });
});
afterAll(() => engine.stop());

const TOOLS = { get_weather: WEATHER, search: SEARCH } as Record<string, typeof WEATHER | typeof SEARCH>;
const choiceOf = (response: ChatCompletion) => response.choices[0]!;

/** Every call names a tool and its arguments validate against that tool's parameters. */
function expectValidCalls(response: ChatCompletion) {
  const calls = choiceOf(response).message.tool_calls ?? [];
  for (const call of calls) {
    expect(call).toMatchObject({ type: "function", id: expect.stringMatching(/^call_[0-9a-f]{24}$/) });
    const tool = TOOLS[call.function.name];
    expect(tool, call.function.name).toBeDefined();
    expect(validates(tool!.function.parameters, call.function.arguments)).toBe(true);
  }
  return calls;
}

describe("tool calls", () => {
  it('tool_choice "required": every answer is calls, whose arguments validate against the tool\'s parameters', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const { response } = await engine.chat(toolChat({ tool_choice: "required", seed }));
      const choice = choiceOf(response);
      expect(choice.finish_reason).toBe("tool_calls");
      expect(choice.message.content).toBeNull();
      expect(expectValidCalls(response).length).toBeGreaterThan(0);
    }
  });

  it("a named function is the one call; gibberish arguments, valid for its strict schema", async () => {
    for (let seed = 0; seed < 12; seed++) {
      const { response } = await engine.chat(
        toolChat({ tool_choice: { type: "function", function: { name: "get_weather" } }, seed }),
      );
      const calls = expectValidCalls(response);
      expect(calls.map((call) => call.function.name)).toEqual(["get_weather"]);
      expect(Object.keys(JSON.parse(calls[0]!.function.arguments))).toEqual(["city", "days", "unit"]);
      expect(choiceOf(response).finish_reason).toBe("tool_calls");
    }
  });

  it("parallel_tool_calls false: one call at most", async () => {
    for (let seed = 0; seed < 8; seed++) {
      const { response } = await engine.chat(
        toolChat({ tool_choice: "required", parallel_tool_calls: false, seed }),
      );
      expect(expectValidCalls(response)).toHaveLength(1);
    }
  });

  it('tool_choice "auto" (the default): calls, or a text answer that does not start with "<"', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const { response } = await engine.chat(toolChat({ seed }));
      const choice = choiceOf(response);
      if (choice.message.tool_calls) {
        expect(choice.finish_reason).toBe("tool_calls");
        expectValidCalls(response);
      } else {
        expect(choice.message.content?.startsWith("<")).toBe(false);
        expect(["stop", "length"]).toContain(choice.finish_reason);
      }
    }
  });

  it('tool_choice "none": text, with the tools still described in the prompt', async () => {
    const { response } = await engine.chat(toolChat({ tool_choice: "none", seed: 3, max_tokens: 20 }));
    expect(choiceOf(response).message.tool_calls).toBeUndefined();
    expect(typeof choiceOf(response).message.content).toBe("string");
    const plain = await engine.chat(chatBody("What is the weather in Paris?", { seed: 3, max_tokens: 20 }));
    expect(response.usage.prompt_tokens).toBeGreaterThan(plain.response.usage.prompt_tokens + 200);
  });

  it("streams calls as OpenAI does: the first delta names the call, the rest add to its arguments; the stream adds up to the answer", async () => {
    for (const seed of [1, 2, 5]) {
      const body = toolChat({ tool_choice: "required", seed });
      const whole = (await engine.chat(body)).response;
      const stream = await engine.streamChat(body);
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      const calls: { id: string; name: string | undefined; arguments: string }[] = [];
      for (const chunk of chunks)
        for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
          if (delta.id) {
            expect(delta.index).toBe(calls.length);
            expect(delta.function.name).toBeDefined();
            calls.push({ id: delta.id, name: delta.function.name, arguments: "" });
          }
          calls[delta.index]!.arguments += delta.function.arguments;
        }
      expect(calls).toEqual(
        (whole.choices[0]!.message.tool_calls ?? []).map((call) => ({
          id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
        })),
      );
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
      const streamed = (await stream.result).response;
      expect(streamed.choices[0]).toEqual(whole.choices[0]);
      expect(responseHash(streamed)).toBe(responseHash(whole));
    }
  });

  it("accepts a follow-up turn with the assistant's calls and the tool results, rendered as the model writes them", async () => {
    const first = (await engine.chat(toolChat({ tool_choice: "required", seed: 4 }))).response;
    const message = choiceOf(first).message;
    const followUp = {
      ...toolChat({ seed: 4, max_tokens: 20 }),
      messages: [
        ...toolChat().messages,
        message,
        ...message.tool_calls!.map((call) => ({
          role: "tool",
          tool_call_id: call.id,
          content: '{"temp": 21}',
        })),
      ],
    };
    const { response } = await engine.chat(followUp);
    expect(response.usage.prompt_tokens).toBeGreaterThan(first.usage.prompt_tokens);
    const prompt = engine.modelFor(TINY).prompts.renderChat(parseChatRequest(followUp));
    const call = message.tool_calls![0]!.function;
    expect(prompt).toContain(
      `<|im_start|>assistant\n<tool_call>\n{"name": "${call.name}", "arguments": ${call.arguments}}\n</tool_call>`,
    );
    expect(prompt).toContain('<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response>');
    expect(prompt).toContain(`<tools>\n${canonicalJson(WEATHER)}\n${canonicalJson(SEARCH)}\n</tools>`);
    const again = await engine.chat(followUp);
    expect(again.generation.completionTokenIds).toEqual(
      (await engine.chat(followUp)).generation.completionTokenIds,
    );
  });

  it("under load: calls, JSON answers and plain chats running at once produce what each produces alone", async () => {
    const bodies = [
      toolChat({ tool_choice: "required", seed: 11 }),
      toolChat({ seed: 12, temperature: 0.7 }),
      chatBody("JSON.", { response_format: { type: "json_object" }, seed: 13, max_tokens: 120 }),
      chatBody("Plain.", { seed: 14, max_tokens: 120 }),
      toolChat({ tool_choice: { type: "function", function: { name: "search" } }, seed: 15 }),
    ];
    const alone: number[][] = [];
    for (const body of bodies) alone.push((await engine.chat(body)).generation.completionTokenIds!);
    const together = await Promise.all(bodies.map((body) => engine.chat(body)));
    expect(together.map((result) => result.generation.completionTokenIds)).toEqual(alone);
  });

  it("reads tools the same whatever the order of their keys (verifiers read bodies as canonical JSON)", async () => {
    const body = toolChat({ tool_choice: "required", seed: 9 });
    const reordered = JSON.parse(
      JSON.stringify(body, (_, value) =>
        value && typeof value === "object" && !Array.isArray(value)
          ? Object.fromEntries(Object.entries(value).reverse())
          : value,
      ),
    );
    const [a, b] = [await engine.chat(body), await engine.chat(reordered)];
    expect(b.generation.promptTokenIds).toEqual(a.generation.promptTokenIds);
    expect(b.generation.completionTokenIds).toEqual(a.generation.completionTokenIds);
    expect(responseHash(b.response)).toBe(responseHash(a.response));
  });

  it.each([
    ["two tools of one name", { tools: [WEATHER, WEATHER] }, "tools.1.function.name"],
    [
      "a tool_choice naming no tool",
      { tool_choice: { type: "function", function: { name: "nope" } } },
      "tool_choice.function.name",
    ],
    ["a required call with no tools", { tools: [], tool_choice: "required" }, "tool_choice"],
    [
      "parameters that are no object schema",
      { tools: [{ type: "function", function: { name: "f", parameters: { type: "string" } } }] },
      "tools.0.function.parameters",
    ],
    [
      "an unsatisfiable parameter schema",
      {
        tools: [
          {
            type: "function",
            function: { name: "f", parameters: { type: "object", properties: { a: { enum: [] } } } },
          },
        ],
      },
      "tools.0.function.parameters.properties.a.enum",
    ],
    [
      "a strict tool whose schema the grammar cannot enforce",
      {
        tools: [
          {
            type: "function",
            function: {
              name: "f",
              strict: true,
              parameters: { type: "object", properties: { a: { type: "string", pattern: "x" } } },
            },
          },
        ],
      },
      "tools.0.function.parameters.properties.a.pattern",
    ],
    [
      "a bad function name",
      { tools: [{ type: "function", function: { name: "has space" } }] },
      "tools.0.function.name",
    ],
    ["stop sequences", { stop: ["}"] }, "stop"],
  ])("refuses %s: InvalidRequestError naming the field", async (_, extra, param) => {
    const error = await engine.chat(toolChat(extra)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
  });
});
