import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import type { ChatResult, CompletionResult } from "../src/InferenceEngine.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import { SCORE_LOGIT_TOLERANCE } from "../src/verify/score.js";
import {
  changeOneToken,
  extend,
  type Honest,
  seededRandom,
  type TamperTools,
  truncate,
} from "./helpers/tamper.js";
import { startTinyEngine } from "./helpers/tinyEngine.js";

const OTHER = "atoma-tiny-s2";
const SETTINGS = [
  { temperature: 0 },
  { temperature: 0.5 },
  { temperature: 0.8, top_k: 40 },
  { temperature: 1, top_k: 0 },
  { temperature: 1.2, top_p: 0.9 },
  { temperature: 0.7, min_p: 0.05 },
  { temperature: 1, top_k: 20, top_p: 0.95, min_p: 0.02 },
  {},
] as const;
const PROMPTS = [
  "Once upon a time",
  "The capital of France is",
  "def main():",
  "Hello",
  "A list: 1, 2,",
  "Ünïcödé?",
];

/** Request i of the test set: chat or text, every sampling setting, some with stop sequences. */
function request(i: number): Record<string, unknown> {
  const common = { model: "atoma-tiny", max_tokens: 48, seed: 1000 + i, ...SETTINGS[i % SETTINGS.length] };
  const prompt = PROMPTS[i % PROMPTS.length]!;
  const stop = i % 5 === 2 ? { stop: ["e", "\n"] } : {};
  return i % 2 === 1
    ? { ...common, ...stop, messages: [{ role: "user", content: prompt }] }
    : { ...common, ...stop, prompt };
}

let engine: EmbeddedEngine;
let tools: TamperTools;
beforeAll(async () => {
  engine = await startTinyEngine({ seeds: [1, 2] });
  const model = engine.modelFor("atoma-tiny").model;
  tools = {
    random: seededRandom(4),
    charToken: (char) => model.tokenize(char)[0]!,
    isEog: (token) => model.isEogToken(token as Token),
    detokenize: (tokens) => model.detokenize(tokens as Token[]),
  };
});
afterAll(() => engine.stop());

async function generate(body: Record<string, unknown>): Promise<ChatResult | CompletionResult> {
  return "messages" in body ? engine.chat(body) : engine.complete(body);
}

function honestOf(result: ChatResult | CompletionResult): Honest {
  const claim = claimFromResponse(result.response);
  return {
    tokens: result.generation.completionTokenIds!,
    text: claim.text!,
    finishReason: claim.finishReason as "stop" | "length",
    completionTokens: claim.completionTokens!,
  };
}

describe("verification of honest work", () => {
  it("replays and scores 200 honest generations without one rejection", { timeout: 300_000 }, async () => {
    const rejected: string[] = [];
    const finishes = new Set<string>();
    const verdicts = { exact: 0, tolerated: 0, rejected: 0 };
    for (let i = 0; i < 200; i++) {
      const body = request(i);
      const result = await generate(body);
      const honest = honestOf(result);
      finishes.add(`${honest.finishReason}:${tools.isEog(honest.tokens.at(-1)!) ? "eog" : "text"}`);
      const replayed = await engine.replay(body, {
        ...claimFromResponse(result.response),
        tokenIds: honest.tokens,
      });
      if (!replayed.match) rejected.push(`replay ${i}: ${JSON.stringify(replayed.difference)}`);
      const byTokens = await engine.score(body, {
        ...claimFromResponse(result.response),
        tokenIds: honest.tokens,
      });
      if (!byTokens.accepted) rejected.push(`score tokens ${i}: ${byTokens.reason}`);
      for (const token of byTokens.tokens) verdicts[token.verdict]++;
      const byText = await engine.score(body, claimFromResponse(result.response));
      if (!byText.accepted) rejected.push(`score text ${i}: ${byText.reason}`);
      expect(byTokens.completionTokens).toBe(honest.completionTokens);
    }
    expect(rejected).toEqual([]);
    // The replicated sampler picks the very token llama.cpp picked almost everywhere; the tolerance is rarely used.
    console.log("honest token verdicts:", verdicts);
    expect(verdicts.exact / (verdicts.exact + verdicts.tolerated)).toBeGreaterThan(0.99);
    // The set ends every way a completion can: end-of-generation token, stop sequence, max_tokens.
    expect(finishes).toEqual(new Set(["stop:eog", "stop:text", "length:text"]));
  });

  it("sees prefill logits within a small fraction of the tolerance of step-by-step decoding", async () => {
    const loaded = engine.modelFor("atoma-tiny");
    const context = await loaded.model.createContext({
      contextSize: 1024,
      sequences: 1,
      threads: 1,
      flashAttention: false,
    });
    try {
      const sequence = context.getSequence();
      let largest = 0;
      for (let i = 0; i < 6; i++) {
        const body = request(i);
        const prepared = await engine.prepare(body, "messages" in body ? "chat" : "completion");
        const tokens = (await generate(body)).generation.completionTokenIds!;
        const all = [...prepared.promptTokens, ...tokens] as Token[];
        await sequence.clearHistory();
        const prefill = await sequence.controlledEvaluate(
          all.map((t) => [t, { generateNext: { logits: true } }]),
        );
        await sequence.clearHistory();
        const promptEnd = await sequence.controlledEvaluate([
          ...(prepared.promptTokens.slice(0, -1) as Token[]),
          [prepared.promptTokens.at(-1) as Token, { generateNext: { logits: true } }],
        ]);
        const stepwise = [promptEnd.at(-1)];
        for (const token of tokens.slice(0, -1))
          stepwise.push(
            (await sequence.controlledEvaluate([[token as Token, { generateNext: { logits: true } }]]))[0],
          );
        for (const [j, step] of stepwise.entries()) {
          const batched = prefill[prepared.promptTokens.length - 1 + j]!.next.logits!;
          for (const [token, logit] of step!.next.logits!)
            largest = Math.max(largest, Math.abs(logit - batched.get(token)!));
        }
      }
      console.log(`largest prefill vs step-by-step logit difference: ${largest}`);
      expect(largest).toBeLessThan(SCORE_LOGIT_TOLERANCE / 4);
    } finally {
      await context.dispose();
    }
  });
});

describe("verification of tampered work", () => {
  it("rejects every tampered claim by replay, and measures how many score rejects", {
    timeout: 300_000,
  }, async () => {
    const kinds = ["one token changed", "truncated", "extended", "other model", "other temperature"] as const;
    const counts = Object.fromEntries(
      kinds.map((k) => [k, { claims: 0, replayRejected: 0, scoreRejected: 0, textScoreRejected: 0 }]),
    );
    for (let i = 0; i < 60; i++) {
      const body = request(i);
      const honest = honestOf(await generate(body));
      const temperature = (body.temperature as number | undefined) ?? 1;
      const tampered: [(typeof kinds)[number], Claim | undefined][] = [];
      const changed = changeOneToken(honest, tools);
      tampered.push(["one token changed", changed?.claim]);
      tampered.push(["truncated", truncate(honest, tools)]);
      tampered.push(["extended", extend(honest, tools)]);
      const other = await generate({ ...body, model: OTHER });
      tampered.push([
        "other model",
        { ...claimFromResponse(other.response), tokenIds: other.generation.completionTokenIds },
      ]);
      const hotter = await generate({ ...body, temperature: temperature === 0 ? 0.8 : temperature * 1.5 });
      tampered.push([
        "other temperature",
        { ...claimFromResponse(hotter.response), tokenIds: hotter.generation.completionTokenIds },
      ]);
      for (const [kind, claim] of tampered) {
        if (
          !claim ||
          (JSON.stringify(claim.tokenIds) === JSON.stringify(honest.tokens) && claim.text === honest.text)
        )
          continue;
        const count = counts[kind]!;
        count.claims++;
        const replayed = await engine.replay(body, claim);
        if (!replayed.match) count.replayRejected++;
        if (kind === "one token changed" && claim.tokenIds)
          expect(replayed.difference).toMatchObject({ field: "tokens", index: changed!.position });
        if (!(await engine.score(body, claim)).accepted) count.scoreRejected++;
        const { tokenIds: _, ...textOnly } = claim;
        if (!(await engine.score(body, textOnly)).accepted) count.textScoreRejected++;
      }
    }
    console.log("tampered claims rejected:", JSON.stringify(counts, null, 1));
    for (const kind of kinds) {
      const count = counts[kind]!;
      expect(count.claims).toBeGreaterThan(50);
      expect(count.replayRejected).toBe(count.claims);
      expect(count.scoreRejected / count.claims).toBeGreaterThanOrEqual(0.95);
      expect(count.textScoreRejected / count.claims).toBeGreaterThanOrEqual(0.95);
    }
  });
});
