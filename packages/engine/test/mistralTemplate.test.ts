import { silentLogger } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { parseChatRequest } from "../src/openai/requests.js";
import type { ChatCompletion } from "../src/openai/responses.js";
import { toolCallText } from "../src/structured/toolCallText.js";
import { ensureTinyModel } from "../src/tinyModel/tinyModelCache.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import { testLlama } from "./helpers/llama.js";
import { SEARCH, WEATHER } from "./helpers/toolRequests.js";

/** The tiny model with a Mistral-v3-style template: calls are one JSON array, after [TOOL_CALLS]. */
const MISTRAL = "atoma-tiny-mistral";
let engine: EmbeddedEngine;
beforeAll(async () => {
  const file = ensureTinyModel({ template: "mistral" });
  expect(file.id).toBe(MISTRAL);
  engine = new EmbeddedEngine(
    { logger: silentLogger, llama: await testLlama() },
    { models: [{ id: file.id, path: file.path }], threads: 1, contextSize: 2048 },
  );
  await engine.start();
});
afterAll(() => engine.stop());

const toolChat = (extra: Record<string, unknown> = {}) => ({
  model: MISTRAL,
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "What is the weather in Paris?" },
  ],
  tools: [WEATHER, SEARCH],
  max_tokens: 400,
  ...extra,
});
const callsOf = (response: ChatCompletion) => response.choices[0]!.message.tool_calls ?? [];

describe("a model with a Mistral-v3-style chat template", () => {
  it("is read as the Mistral dialect, and its template renders the tools", () => {
    expect(engine.toolDialect(MISTRAL).name).toBe("mistral");
    const prompt = engine.modelFor(MISTRAL).prompts.renderChat(parseChatRequest(toolChat()));
    expect(prompt).toMatch(
      /^<s>\[AVAILABLE_TOOLS\]\[\{"function": \{"description": .*\[\/AVAILABLE_TOOLS\]\[INST\]You are terse\.\n\nWhat is the weather in Paris\?\[\/INST\]$/,
    );
  });

  it('tool_choice "required": one array of calls, read back as calls, replayed bit for bit', async () => {
    let parallel = 0;
    let finished = 0;
    for (let seed = 0; seed < 8; seed++) {
      const request = toolChat({ tool_choice: "required", seed });
      const { response, generation } = await engine.chat(request);
      const calls = callsOf(response);
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(["get_weather", "search"]).toContain(call.function.name);
      if (calls.length > 1) parallel++;
      const byTokens = await engine.replay(request, { tokenIds: generation.completionTokenIds });
      expect(byTokens.match).toBe(true);
      expect(byTokens.expected.text.startsWith('[{"name": "')).toBe(true);
      // A random model may keep adding calls until max_tokens; a finished answer closes the array.
      if (response.choices[0]!.finish_reason !== "tool_calls") continue;
      finished++;
      const claim = claimFromResponse(response, engine.toolDialect(MISTRAL));
      expect((await engine.replay(request, claim)).match).toBe(true);
      expect(byTokens.expected.text.endsWith("}]")).toBe(true);
    }
    expect(parallel, "some answers hold several calls").toBeGreaterThan(0);
    expect(finished, "some answers are finished").toBeGreaterThan(0);
  });

  it('tool_choice "auto": calls, or a text answer that does not start with "["', async () => {
    for (let seed = 0; seed < 8; seed++) {
      const { response } = await engine.chat(toolChat({ seed }));
      const message = response.choices[0]!.message;
      if (!message.tool_calls) expect(message.content?.startsWith("[")).toBe(false);
    }
  });

  it("renders a follow-up turn's calls and results through the template", async () => {
    const first = (await engine.chat(toolChat({ tool_choice: "required", seed: 2 }))).response;
    const message = first.choices[0]!.message;
    const followUp = toolChat({
      seed: 2,
      max_tokens: 20,
      messages: [
        ...toolChat().messages,
        message,
        ...message.tool_calls!.map((call) => ({ role: "tool", tool_call_id: call.id, content: "21 C" })),
      ],
    });
    const prompt = engine.modelFor(MISTRAL).prompts.renderChat(parseChatRequest(followUp));
    expect(prompt).toContain(
      `[TOOL_CALLS][{"name": "${message.tool_calls![0]!.function.name}", "arguments": `,
    );
    expect(prompt).toContain("[TOOL_RESULTS]21 C[/TOOL_RESULTS]");
    await engine.chat(followUp);
  });

  it("catches a faked call on replay", async () => {
    const dialect = engine.toolDialect(MISTRAL);
    for (let seed = 0; seed < 3; seed++) {
      const request = toolChat({ tool_choice: "required", seed, temperature: 0.8 });
      const call = callsOf((await engine.chat(request)).response)[0]!.function;
      const fakedArguments =
        call.name === "search" ? '{"terms": ["x"]}' : '{"city": "Paris", "days": 3, "unit": "c"}';
      const text = toolCallText([{ name: call.name, arguments: fakedArguments }], dialect);
      const faked: Claim = { text, finishReason: "stop" };
      const replayed = await engine.replay(request, faked);
      expect(replayed.match).toBe(false);
    }
  });
});
