// The tolerant check (score): false accusations of honest answers computed on other threads, detection of cheating.
import { silentLogger } from "@atoma/core";
import { type Claim, claimFromResponse, EmbeddedEngine, ensureTinyModel } from "@atoma/engine";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { changeFraction, type Honest, seededRandom } from "../packages/engine/test/helpers/tamper.js";
import { report } from "./lib/report.js";

/** Honest answers per producer thread count (the verifier runs on one thread). */
const PER_PRODUCER = Number(process.env.VERIFY_ANSWERS ?? 100);
/** A rejected text claim can cost many times a generation (the walk tries other spellings): text-check every 10th. */
const TEXT_CHEAT_STRIDE = 10;
const PRODUCER_THREADS = [2, 4];
const SETTINGS = [
  { temperature: 0 },
  { temperature: 0.5 },
  { temperature: 0.8, top_k: 40 },
  { temperature: 1, top_k: 0 },
  { temperature: 1.2, top_p: 0.9 },
  { temperature: 0.7, min_p: 0.05 },
  { temperature: 1, top_k: 20, top_p: 0.95, min_p: 0.02 },
  {},
];
const PROMPTS = [
  "Once upon a time",
  "The capital of France is",
  "def main():",
  "Hello",
  "A list: 1, 2,",
  "Ünïcödé?",
];
const request = (i: number): Record<string, unknown> => {
  const common = { model: "atoma-tiny", max_tokens: 100, seed: 5000 + i, ...SETTINGS[i % SETTINGS.length] };
  const prompt = PROMPTS[i % PROMPTS.length]!;
  return i % 2 === 1 ? { ...common, messages: [{ role: "user", content: prompt }] } : { ...common, prompt };
};

const llama = await getLlama({
  gpu: false,
  build: "never",
  skipDownload: true,
  logLevel: LlamaLogLevel.error,
});
const models = [1, 2].map((seed) => {
  const file = ensureTinyModel({ seed });
  return { id: file.id, path: file.path };
});
const start = async (threads: number) => {
  const engine = new EmbeddedEngine({ logger: silentLogger, llama }, { models, threads, contextSize: 1024 });
  await engine.start();
  return engine;
};
const verifier = await start(1);
const model = verifier.modelFor("atoma-tiny").model;
const tools = {
  random: seededRandom(7),
  charToken: (char: string) => model.tokenize(char)[0]!,
  isEog: (token: number) => model.isEogToken(token as Token),
  detokenize: (tokens: number[]) => model.detokenize(tokens as Token[]),
};
const generate = (engine: EmbeddedEngine, body: Record<string, unknown>) =>
  "messages" in body ? engine.chat(body) : engine.complete(body);
type Result = Awaited<ReturnType<typeof generate>>;
const claimOf = (result: Result): Claim => ({
  ...claimFromResponse(result.response),
  tokenIds: result.generation.completionTokenIds,
});
const textOnly = ({ tokenIds: _, ...claim }: Claim): Claim => claim;

const kinds = ["tamper_1pct", "tamper_10pct", "tamper_100pct", "swapped_model", "copied_answer"] as const;
const caught = Object.fromEntries(
  kinds.map((kind) => [kind, { tokens: 0, text: 0, claims: 0, textClaims: 0 }]),
);
const honestCount = { answers: 0, tokensAccused: 0, textAccused: 0, exact: 0, tolerated: 0 };
let previous: { body: Record<string, unknown>; claim: Claim } | undefined;
for (const threads of PRODUCER_THREADS) {
  const producer = await start(threads);
  for (let n = 0; n < PER_PRODUCER; n++) {
    const i = threads * 10_000 + n;
    const body = request(i);
    const result = await generate(producer, body);
    const claim = claimOf(result);
    honestCount.answers++;
    const byTokens = await verifier.score(body, claim);
    if (!byTokens.accepted) honestCount.tokensAccused++;
    for (const token of byTokens.tokens) honestCount[token.verdict === "exact" ? "exact" : "tolerated"]++;
    if (!(await verifier.score(body, textOnly(claim))).accepted) honestCount.textAccused++;

    const honest: Honest = {
      tokens: [...claim.tokenIds!],
      text: claim.text!,
      finishReason: claim.finishReason as "stop" | "length",
      completionTokens: claim.completionTokens!,
    };
    const swapped = claimOf(await generate(producer, { ...body, model: "atoma-tiny-s2" }));
    const cheats: [(typeof kinds)[number], Claim | undefined][] = [
      ["tamper_1pct", changeFraction(honest, 0.01, tools)],
      ["tamper_10pct", changeFraction(honest, 0.1, tools)],
      ["tamper_100pct", changeFraction(honest, 1, tools)],
      ["swapped_model", swapped],
      // Another request's answer (another prompt or seed) passed off as this one's.
      ["copied_answer", previous && previous.claim.text !== claim.text ? previous.claim : undefined],
    ];
    previous = { body, claim };
    for (const [kind, cheat] of cheats) {
      if (!cheat || (cheat.text === claim.text && `${cheat.tokenIds}` === `${claim.tokenIds}`)) continue;
      const count = caught[kind]!;
      count.claims++;
      if (!(await verifier.score(body, cheat)).accepted) count.tokens++;
      if (n % TEXT_CHEAT_STRIDE !== 0) continue;
      count.textClaims++;
      if (!(await verifier.score(body, textOnly(cheat))).accepted) count.text++;
    }
  }
  await producer.stop();
}
await verifier.stop();
await llama.dispose();

report("verify_honest_answers_other_threads", honestCount.answers, "answers");
report("verify_false_accusations_tokens", honestCount.tokensAccused, "answers");
report("verify_false_accusations_text", honestCount.textAccused, "answers");
report(
  "verify_tolerated_token_share",
  honestCount.tolerated / (honestCount.exact + honestCount.tolerated),
  "ratio",
);
for (const kind of kinds) {
  const count = caught[kind]!;
  report(`verify_detect_${kind}_claims`, count.claims, "claims");
  report(`verify_detect_${kind}_tokens`, count.tokens / count.claims, "ratio");
  report(`verify_detect_${kind}_text_claims`, count.textClaims, "claims");
  report(`verify_detect_${kind}_text`, count.text / count.textClaims, "ratio");
}
