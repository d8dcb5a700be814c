import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import type { ChatResult, CompletionResult } from "../src/InferenceEngine.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import { changeFraction, type Honest, seededRandom, type TamperTools } from "./helpers/tamper.js";
import { startTinyEngine } from "./helpers/tinyEngine.js";

// The tolerant check (engine.score) is what an attester uses where it cannot replay bit for bit: it must catch
// every cheat below, and must not accuse an honest node whose numbers come from another thread count.
const ANSWERS = 6;
const SETTINGS = [
  { temperature: 0 },
  { temperature: 0.8, top_k: 40 },
  { temperature: 1, top_k: 0 },
  { temperature: 1.2, top_p: 0.9 },
  { temperature: 0.7, min_p: 0.05 },
  {},
] as const;
const PROMPTS = ["Once upon a time", "The capital of France is", "def main():", "A list: 1, 2,"];
const request = (i: number): Record<string, unknown> => {
  const common = { model: "atoma-tiny", max_tokens: 100, seed: 9000 + i, ...SETTINGS[i % SETTINGS.length] };
  const prompt = PROMPTS[i % PROMPTS.length]!;
  return i % 2 === 1 ? { ...common, messages: [{ role: "user", content: prompt }] } : { ...common, prompt };
};

let verifier: EmbeddedEngine;
let producer: EmbeddedEngine;
let tools: TamperTools;
beforeAll(async () => {
  verifier = await startTinyEngine({ seeds: [1, 2], threads: 1 });
  producer = await startTinyEngine({ seeds: [1, 2], threads: 2 });
  const model = verifier.modelFor("atoma-tiny").model;
  tools = {
    random: seededRandom(11),
    charToken: (char) => model.tokenize(char)[0]!,
    isEog: (token) => model.isEogToken(token as Token),
    detokenize: (tokens) => model.detokenize(tokens as Token[]),
  };
}, 120_000);
afterAll(async () => {
  await producer?.stop();
  await verifier?.stop();
});

const generate = (
  engine: EmbeddedEngine,
  body: Record<string, unknown>,
): Promise<ChatResult | CompletionResult> => ("messages" in body ? engine.chat(body) : engine.complete(body));
const claimOf = (result: ChatResult | CompletionResult): Claim => ({
  ...claimFromResponse(result.response),
  tokenIds: result.generation.completionTokenIds,
});
const honestOf = (claim: Claim): Honest => ({
  tokens: [...claim.tokenIds!],
  text: claim.text!,
  finishReason: claim.finishReason as "stop" | "length",
  completionTokens: claim.completionTokens!,
});
const textOnly = ({ tokenIds: _, ...claim }: Claim): Claim => claim;

/** Which of the claims (by token ids, then by text alone, as a response carries it) the verifier accepts. */
async function accepted(cheats: { body: Record<string, unknown>; claim: Claim }[]): Promise<string[]> {
  const passed: string[] = [];
  for (const [i, { body, claim }] of cheats.entries()) {
    if ((await verifier.score(body, claim)).accepted) passed.push(`${i} by tokens`);
    if ((await verifier.score(body, textOnly(claim))).accepted) passed.push(`${i} by text`);
  }
  return passed;
}

describe("the tolerant check against cheating nodes", () => {
  it("catches a node that changes 1 % of the tokens (one in a hundred)", { timeout: 300_000 }, async () => {
    const cheats = [];
    for (let i = 0; i < ANSWERS; i++) {
      const body = request(i);
      const honest = honestOf(claimOf(await generate(producer, body)));
      const claim = changeFraction(honest, 0.01, tools);
      if (claim) cheats.push({ body, claim });
    }
    expect(cheats.length).toBeGreaterThanOrEqual(ANSWERS - 2);
    expect(await accepted(cheats)).toEqual([]);
  });

  it("catches a node that serves another model's answer", { timeout: 300_000 }, async () => {
    const cheats = [];
    for (let i = 0; i < ANSWERS; i++) {
      const body = request(i);
      const claim = claimOf(await generate(producer, { ...body, model: "atoma-tiny-s2" }));
      cheats.push({ body, claim });
    }
    expect(await accepted(cheats)).toEqual([]);
  });

  it("catches a node that copies another node's answer to a different prompt", {
    timeout: 300_000,
  }, async () => {
    const cheats = [];
    for (let i = 0; i < ANSWERS; i++) {
      const body = request(i);
      // Same sampling settings and seed, another prompt: the answer another node gave to its own request.
      const other: Record<string, unknown> = { ...body, seed: 9000 + i + 1 };
      if ("prompt" in other) other.prompt = `${other.prompt} again`;
      else other.messages = [{ role: "user", content: "Something else entirely" }];
      cheats.push({ body, claim: claimOf(await generate(producer, other)) });
    }
    expect(await accepted(cheats)).toEqual([]);
  });

  it("accepts every honest answer computed on another thread count", { timeout: 300_000 }, async () => {
    const accused: string[] = [];
    for (let i = 0; i < ANSWERS * 2; i++) {
      const body = request(100 + i);
      const claim = claimOf(await generate(producer, body));
      const byTokens = await verifier.score(body, claim);
      if (!byTokens.accepted) accused.push(`${i} by tokens: ${byTokens.reason}`);
      const byText = await verifier.score(body, textOnly(claim));
      if (!byText.accepted) accused.push(`${i} by text: ${byText.reason}`);
    }
    expect(accused).toEqual([]);
  });
});
