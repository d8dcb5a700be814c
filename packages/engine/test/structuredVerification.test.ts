import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import type { ChatCompletion } from "../src/openai/responses.js";
import { toolCallText } from "../src/structured/toolCallText.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import { chatBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";
import { toolChat } from "./helpers/toolRequests.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine({ contextSize: 2048 });
});
afterAll(() => engine.stop());

const ANSWER = {
  type: "object",
  properties: { answer: { type: "string", maxLength: 8 }, sure: { type: "boolean" } },
  additionalProperties: false,
};
const jsonChat = (seed: number, temperature: number) =>
  chatBody("Answer in JSON.", {
    response_format: { type: "json_schema", json_schema: { name: "a", schema: ANSWER, strict: true } },
    seed,
    temperature,
  });
const callChat = (seed: number, temperature: number) =>
  toolChat({ tool_choice: "required", seed, temperature });

/** A claim's tokens as a cheater would give them: its text tokenized, ended by end-of-generation. */
function tokensOf(text: string): number[] {
  const model = engine.modelFor(TINY).model;
  return [...model.tokenize(text, false), model.tokens.eos!];
}

/** The honest tool call with other arguments, as valid for the tool. */
function fakedCall(response: ChatCompletion): Claim {
  const call = response.choices[0]!.message.tool_calls![0]!.function;
  const faked = {
    ...call,
    arguments: call.name === "search" ? '{"terms": ["x"]}' : '{"city": "Paris", "days": 3, "unit": "c"}',
  };
  const text = toolCallText([faked]);
  return { text, finishReason: "stop", completionTokens: tokensOf(text).length };
}

function fakedJson(): Claim {
  const text = '{"answer": "yes", "sure": true}';
  return { text, finishReason: "stop", completionTokens: tokensOf(text).length };
}

describe("verifying tool calls and JSON answers", () => {
  const cases = [
    ["tool call", callChat],
    ["JSON answer", jsonChat],
  ] as const;

  it.each(cases)(
    "replay and score reproduce an honest %s, greedy and sampled, every token the sampler's exact pick",
    async (_, body) => {
      for (const temperature of [0, 0.8]) {
        for (let seed = 0; seed < 4; seed++) {
          const request = body(seed, temperature);
          const { response, generation } = await engine.chat(request);
          const claim = claimFromResponse(response);
          expect((await engine.replay(request, claim)).match).toBe(true);
          const byTokens = await engine.score(request, { ...claim, tokenIds: generation.completionTokenIds });
          expect(byTokens.reason).toBeUndefined();
          expect(byTokens.tokens.every((token) => token.verdict === "exact")).toBe(true);
          const byText = await engine.score(request, claim);
          expect(byText.reason).toBeUndefined();
        }
      }
    },
  );

  it("rejects a faked tool call (other arguments, valid for the tool) by replay and by score", async () => {
    for (let seed = 0; seed < 4; seed++) {
      const request = callChat(seed, 0.8);
      const faked = fakedCall((await engine.chat(request)).response);
      const replayed = await engine.replay(request, faked);
      expect(replayed.match).toBe(false);
      expect(replayed.difference?.field).toBe("text");
      expect((await engine.score(request, faked)).accepted).toBe(false);
      const byTokens = await engine.score(request, { ...faked, tokenIds: tokensOf(faked.text!) });
      expect(byTokens.accepted).toBe(false);
    }
  });

  it("rejects a faked JSON answer (another document of the schema) by replay and by score", async () => {
    for (let seed = 0; seed < 4; seed++) {
      const request = jsonChat(seed, 0.8);
      const faked = fakedJson();
      expect((await engine.replay(request, faked)).match).toBe(false);
      expect((await engine.score(request, faked)).accepted).toBe(false);
      expect((await engine.score(request, { ...faked, tokenIds: tokensOf(faked.text!) })).accepted).toBe(
        false,
      );
    }
  });

  it("names the grammar when a claimed token breaks it", async () => {
    const request = jsonChat(1, 0);
    const { generation } = await engine.chat(request);
    const tokens = [...generation.completionTokenIds!];
    tokens[0] = engine.modelFor(TINY).model.tokenize("x", false)[0]!; // a JSON answer starts with "{"
    const scored = await engine.score(request, { tokenIds: tokens });
    expect(scored).toMatchObject({ accepted: false, firstRejected: 0 });
    expect(scored.reason).toContain("the output grammar does not allow it");
  });
});
