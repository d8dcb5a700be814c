// A dump of engine.score's results on a fixed set of claims, to show that a change to the tolerant check gives the
// same results byte for byte: `node --import tsx packages/engine/test/scoreDump.ts OUT.json CLAIMS.json` before and
// after the change (same machine: logits differ across CPUs), then `cmp` the OUT files. 160 claims (honest from
// another thread count, tampered at one token, at 1 % and 10 %, truncated, extended, another model's, 700-token
// multi-batch, JSON grammar), each scored by its token ids and by its text alone: 320 scorings. Generating the
// claims is the slow part (on two threads: minutes on a loaded machine), so they are kept in CLAIMS.json, made
// there when it does not exist yet.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Token } from "node-llama-cpp";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import type { ChatResult, CompletionResult } from "../src/InferenceEngine.js";
import { type Claim, claimFromResponse } from "../src/verify/claim.js";
import {
  changeFraction,
  changeOneToken,
  extend,
  type Honest,
  seededRandom,
  type TamperTools,
  truncate,
} from "./helpers/tamper.js";
import { startTinyEngine } from "./helpers/tinyEngine.js";

const [out, claimsFile] = process.argv.slice(2);
if (!out || !claimsFile) throw new Error("usage: scoreDump.ts OUT.json CLAIMS.json");

const SETTINGS = [
  { temperature: 0 },
  { temperature: 0.8, top_k: 40 },
  { temperature: 1, top_k: 0 },
  { temperature: 1.2, top_p: 0.9 },
  { temperature: 0.7, min_p: 0.05 },
  {},
] as const;
const PROMPTS = ["Once upon a time", "The capital of France is", "def main():", "A list: 1, 2,"];
const ANSWER = {
  type: "object",
  properties: { answer: { type: "string", maxLength: 8 }, sure: { type: "boolean" } },
  additionalProperties: false,
};
const request = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const common = {
    model: "atoma-tiny",
    max_tokens: 100,
    seed: 7000 + i,
    ...SETTINGS[i % SETTINGS.length],
    ...extra,
  };
  const prompt = PROMPTS[i % PROMPTS.length]!;
  return i % 2 === 1 ? { ...common, messages: [{ role: "user", content: prompt }] } : { ...common, prompt };
};

const verifier = await startTinyEngine({ seeds: [1, 2], threads: 1, contextSize: 2048 });
const producer = await startTinyEngine({ seeds: [1, 2], threads: 2, contextSize: 2048 });
const model = verifier.modelFor("atoma-tiny").model;
const tools: TamperTools = {
  random: seededRandom(5),
  charToken: (char) => model.tokenize(char)[0]!,
  isEog: (token) => model.isEogToken(token as Token),
  detokenize: (tokens) => model.detokenize(tokens as Token[]),
};
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

type Case = { name: string; body: Record<string, unknown>; claim: Claim };
const cases: Case[] = existsSync(claimsFile)
  ? JSON.parse(readFileSync(claimsFile, "utf8"))
  : await makeCases();
if (!existsSync(claimsFile)) writeFileSync(claimsFile, JSON.stringify(cases));

async function makeCases(): Promise<Case[]> {
  const cases: Case[] = [];
  for (let i = 0; i < 24; i++) {
    const body = request(i);
    const honest = claimOf(await generate(producer, body));
    cases.push({ name: `honest ${i}`, body, claim: honest });
    const tampered: [string, Claim | undefined][] = [
      ["one token", changeOneToken(honestOf(honest), tools)?.claim],
      ["1 %", changeFraction(honestOf(honest), 0.01, tools)],
      ["10 %", changeFraction(honestOf(honest), 0.1, tools)],
      ["truncated", truncate(honestOf(honest), tools)],
    ];
    if (i % 2 === 0) tampered.push(["extended", extend(honestOf(honest), tools)]);
    for (const [what, claim] of tampered) if (claim) cases.push({ name: `${what} ${i}`, body, claim });
    if (i % 3 === 0)
      cases.push({
        name: `other model ${i}`,
        body,
        claim: claimOf(await generate(producer, { ...body, model: "atoma-tiny-s2" })),
      });
  }
  for (let i = 0; i < 4; i++) {
    const body = request(100 + i, { max_tokens: 700, ignore_eos: true });
    const honest = claimOf(await generate(producer, body));
    cases.push({ name: `long ${i}`, body, claim: honest });
    cases.push({ name: `long 10 % ${i}`, body, claim: changeFraction(honestOf(honest), 0.1, tools)! });
  }
  for (let i = 0; i < 6; i++) {
    const body = {
      model: "atoma-tiny",
      messages: [{ role: "user", content: "Answer in JSON." }],
      response_format: { type: "json_schema", json_schema: { name: "a", schema: ANSWER, strict: true } },
      seed: 300 + i,
      temperature: [0, 0.8, 1][i % 3],
    };
    const honest = claimOf(await generate(producer, body));
    cases.push({ name: `json ${i}`, body, claim: honest });
    const one = changeOneToken(honestOf(honest), tools);
    if (one) cases.push({ name: `json one token ${i}`, body, claim: one.claim });
  }

  return cases;
}

const results: unknown[] = [];
const started = performance.now();
for (const { name, body, claim } of cases) {
  const { tokenIds: _, ...textClaim } = claim;
  results.push({
    name,
    byTokens: await verifier.score(body, claim),
    byText: await verifier.score(body, textClaim),
  });
}
const accepted = results.filter((r) => (r as { byTokens: { accepted: boolean } }).byTokens.accepted).length;
writeFileSync(out, `${JSON.stringify(results, null, 1)}\n`);
console.log(
  `${cases.length} claims, ${2 * cases.length} scorings (${accepted} accepted by tokens) in ${((performance.now() - started) / 1000).toFixed(1)} s -> ${out}`,
);
await producer.stop();
await verifier.stop();
