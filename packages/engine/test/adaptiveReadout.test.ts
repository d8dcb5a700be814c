import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import type { ChatResult, CompletionResult } from "../src/InferenceEngine.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import type { ScoreResult } from "../src/verify/score.js";
import {
  changeFraction,
  changeOneToken,
  type Honest,
  seededRandom,
  type TamperTools,
} from "./helpers/tamper.js";
import { startTinyEngine, TINY } from "./helpers/tinyEngine.js";

// The tolerant check reads the top k + 1 logits of a position (greedy: the top 2) and widens to the top-k and its
// margin only where the claimed token is not the sampler's exact pick. Whatever a claim holds, the result must be the
// one the whole read gives: a cheater must not find a token the short read settles differently.
const SETTINGS = [
  { temperature: 0 },
  { temperature: 0.8, top_k: 40 },
  { temperature: 1.2, top_p: 0.9 },
  { temperature: 0.7, min_p: 0.05 },
  { temperature: 1, top_k: 3 },
  {},
] as const;

let verifier: EmbeddedEngine;
let producer: EmbeddedEngine;
let tools: TamperTools;
beforeAll(async () => {
  verifier = await startTinyEngine({ seeds: [1, 2], threads: 1, contextSize: 2048 });
  producer = await startTinyEngine({ seeds: [1, 2], threads: 2, contextSize: 2048 });
  const model = verifier.modelFor(TINY).model;
  tools = {
    random: seededRandom(23),
    charToken: (char) => model.tokenize(char)[0]!,
    isEog: (token) => model.isEogToken(token as Token),
    detokenize: (tokens) => model.detokenize(tokens as Token[]),
  };
}, 120_000);
afterAll(async () => {
  await producer?.stop();
  await verifier?.stop();
});

const generate = (body: Record<string, unknown>): Promise<ChatResult | CompletionResult> =>
  "messages" in body ? producer.chat(body) : producer.complete(body);
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

/** Scores the claim by its tokens and by its text, with the short read and the whole one: they must agree. */
async function both(body: Record<string, unknown>, claim: Claim): Promise<ScoreResult[]> {
  const results: ScoreResult[] = [];
  for (const asked of [claim, textOnly(claim)]) {
    const short = await verifier.score(body, asked);
    const whole = await verifier.score(body, asked, { exhaustiveReadout: true });
    expect(short).toEqual(whole);
    results.push(short);
  }
  return results;
}

describe("the tolerant check's short read-out", () => {
  it("gives the whole read's results on honest answers from another thread count, and on tampered ones", {
    timeout: 900_000,
  }, async () => {
    let accepted = 0;
    let rejected = 0;
    for (const [i, settings] of SETTINGS.entries()) {
      const prompt = "Once upon a time";
      const common = { model: TINY, max_tokens: 48, seed: 40 + i, ...settings };
      const body =
        i % 2 === 0 ? { ...common, prompt } : { ...common, messages: [{ role: "user", content: prompt }] };
      const honest = claimOf(await generate(body));
      for (const result of await both(body, honest)) if (result.accepted) accepted++;
      for (const claim of [
        changeOneToken(honestOf(honest), tools)?.claim,
        changeFraction(honestOf(honest), 0.1, tools),
      ])
        if (claim) for (const result of await both(body, claim)) if (!result.accepted) rejected++;
    }
    expect(accepted).toBe(2 * SETTINGS.length);
    expect(rejected).toBeGreaterThanOrEqual(4 * SETTINGS.length - 2);
  });

  it("widens where the claimed token is the greedy choice but not the sampler's pick", {
    timeout: 300_000,
  }, async () => {
    // A lazy node answers a sampled request greedily: every token ranks first, few are what the draw selects.
    const body = { model: TINY, prompt: "The capital of France is", max_tokens: 80, seed: 5, temperature: 1 };
    const greedy = claimOf(await verifier.complete({ ...body, temperature: 0 }));
    const [byTokens] = await both(body, greedy);
    expect(byTokens!.accepted).toBe(false);
    expect(byTokens!.tokens.at(-1)!.rank).toBe(1);
  });

  it("gives the whole read's results for every character at three positions, ranked inside the short read or not", {
    timeout: 300_000,
  }, async () => {
    // The token ranked k + 1 is in the short read, yet no candidate of the sampler; the one ranked 2nd is in the
    // greedy short read, and may be tolerated: each must be judged on the whole read, as the whole read judges it.
    const ranks = new Map<string, Set<number>>();
    for (const [name, settings] of [
      ["sampled", { temperature: 0.9, top_k: 5 }],
      ["greedy", { temperature: 0 }],
    ] as const) {
      const body = {
        model: TINY,
        prompt: "def main():",
        max_tokens: 40,
        seed: 8,
        ignore_eos: true,
        ...settings,
      };
      const answer = claimOf(await verifier.complete(body)).tokenIds!;
      const seen = new Set<number>();
      for (const at of [6, 10, 14])
        for (let code = 31; code < 127; code++) {
          const char = code === 31 ? "\n" : String.fromCharCode(code);
          const claim = { tokenIds: [...answer.slice(0, at), tools.charToken(char)] };
          const short = await verifier.score(body, claim);
          expect(short).toEqual(await verifier.score(body, claim, { exhaustiveReadout: true }));
          if (short.tokens[at]) seen.add(short.tokens[at].rank);
        }
      ranks.set(name, seen);
    }
    // Ranked k + 1 = 6 (in the short read, not a candidate) and 7 (only in the whole read); greedy: 2nd and 3rd.
    expect([6, 7].filter((rank) => ranks.get("sampled")!.has(rank))).toEqual([6, 7]);
    expect([2, 3].filter((rank) => ranks.get("greedy")!.has(rank))).toEqual([2, 3]);
  });
});
