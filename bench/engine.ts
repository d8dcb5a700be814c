// Inference: tokens/s through the engine vs node-llama-cpp directly, verification cost (replay, score) vs generation.
// `npm run bench -- engine verification`: the verification cost alone (score_cost_ratio and the rest), tiny models.
import { silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type TinyModelShape } from "@atoma/engine";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { percentile, report, timeMs } from "./lib/report.js";

const TOKENS = 256;
const ROUNDS = 11;
const VERIFICATION_ONLY = process.argv[2] === "verification";
/** Best of the rounds: on a shared machine the fastest run is the one least disturbed by other work. */
const best = (values: number[]) => percentile(values, 0);
const expect = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`${what} rejected an honest completion`);
};

const llama = await getLlama({
  gpu: false,
  build: "never",
  skipDownload: true,
  logLevel: LlamaLogLevel.error,
});

/** Every figure for one model shape; `suffix` tells them apart. */
async function benchShape(
  suffix: string,
  shape: Partial<TinyModelShape> | undefined,
  rounds = ROUNDS,
): Promise<void> {
  const file = ensureTinyModel({ seed: 1, shape });
  const engine = new EmbeddedEngine(
    { logger: silentLogger, llama },
    { models: [{ id: file.id, path: file.path }], threads: 1, contextSize: 1024, sequences: 4 },
  );
  await engine.start();
  try {
    const body = (seed: number, extra: Record<string, unknown> = {}) => ({
      model: file.id,
      prompt: "Once upon a time, in a land far away,",
      max_tokens: TOKENS,
      temperature: 0.8,
      seed,
      ignore_eos: true,
      ...extra,
    });
    const prepared = await engine.prepare(body(1), "completion");

    // node-llama-cpp called directly: sequences of a context made like the engine's (but with node-llama-cpp's
    // default batching, which puts the pending tokens of every sequence into one decode), the same sampling.
    const context = await engine.modelFor(file.id).model.createContext({
      contextSize: 1024,
      sequences: 4,
      threads: 1,
      batchSize: 512,
      flashAttention: false,
    });
    const sequences = [0, 1, 2, 3].map(() => context.getSequence());
    const direct = async (seed: number, sequence = sequences[0]!) => {
      await sequence.clearHistory();
      let count = 0;
      const { temperature, topK, topP, minP } = prepared.sampling;
      for await (const _ of sequence.evaluate(prepared.promptTokens as Token[], {
        temperature,
        topK,
        topP,
        minP,
        seed,
        yieldEogToken: true,
      }))
        if (++count === TOKENS) break;
    };
    const throughEngine = async (seed: number) => {
      const { response } = await engine.complete(body(seed));
      if (response.usage.completion_tokens !== TOKENS) throw new Error("unexpected length");
    };
    await direct(0);
    await throughEngine(0);
    if (!VERIFICATION_ONLY) await benchThroughput();
    await benchVerification();
    await context.dispose();

    async function benchThroughput() {
      const directMs: number[] = [];
      const engineMs: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        directMs.push(await timeMs(() => direct(round)));
        engineMs.push(await timeMs(() => throughEngine(round)));
      }
      const directRate = TOKENS / (best(directMs) / 1000);
      const engineRate = TOKENS / (best(engineMs) / 1000);
      report(`direct_tokens_per_s${suffix}`, directRate, "tok/s");
      report(`engine_tokens_per_s${suffix}`, engineRate, "tok/s");
      report(`engine_vs_direct_ratio${suffix}`, engineRate / directRate, "x");

      // Four requests at once on four context sequences: through the engine (one sequence per decode, so each gets
      // the tokens it gets alone) and directly (node-llama-cpp's batching of all four into each decode).
      const seeds = [11, 12, 13, 14];
      const concurrentMs: number[] = [];
      const batchedMs: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        concurrentMs.push(await timeMs(() => Promise.all(seeds.map((seed) => throughEngine(seed)))));
        batchedMs.push(
          await timeMs(() => Promise.all(seeds.map((seed, index) => direct(seed, sequences[index])))),
        );
      }
      const concurrentRate = (4 * TOKENS) / (best(concurrentMs) / 1000);
      const batchedRate = (4 * TOKENS) / (best(batchedMs) / 1000);
      report(`concurrent4_tokens_per_s${suffix}`, concurrentRate, "tok/s");
      report(`concurrent4_vs_solo_tokens_ratio${suffix}`, concurrentRate / engineRate, "x");
      report(`concurrent4_batched_tokens_per_s${suffix}`, batchedRate, "tok/s");
      report(`one_sequence_per_decode_vs_batched_ratio${suffix}`, concurrentRate / batchedRate, "x");
    }

    async function benchVerification() {
      // Verification of a 256-token completion, against generating it: with the default top_k (40) the verifier
      // reads the top 56 logits of each step, greedy the top 8; with top_k 0 (the whole vocabulary) it reads them all.
      // The floor under score: the same prefill (prompt and completion, one batch) with no logits read but the last.
      for (const [label, extra] of [
        ["", {}],
        ["_greedy", { temperature: 0 }],
        ["_full_vocab", { top_k: 0 }],
      ] as const) {
        const generateMs: number[] = [];
        const replayMs: number[] = [];
        const scoreMs: number[] = [];
        const scoreTextMs: number[] = [];
        const prefillMs: number[] = [];
        for (let round = 1; round <= rounds; round++) {
          const request = body(100 + round, extra);
          let result: Awaited<ReturnType<EmbeddedEngine["complete"]>> | undefined;
          generateMs.push(await timeMs(async () => (result = await engine.complete(request))));
          const claim = {
            text: result!.response.choices[0]!.text,
            tokenIds: result!.generation.completionTokenIds,
            finishReason: result!.response.choices[0]!.finish_reason,
            completionTokens: result!.response.usage.completion_tokens,
          };
          const { tokenIds: _, ...textClaim } = claim;
          const forced = [...result!.generation.promptTokenIds!, ...claim.tokenIds!] as Token[];
          prefillMs.push(
            await timeMs(async () => {
              await sequences[0]!.clearHistory();
              await sequences[0]!.controlledEvaluate([
                ...forced.slice(0, -1),
                [forced.at(-1)!, { generateNext: { token: true } }],
              ]);
            }),
          );
          replayMs.push(
            await timeMs(async () => expect((await engine.replay(request, claim)).match, "replay")),
          );
          scoreMs.push(
            await timeMs(async () => expect((await engine.score(request, claim)).accepted, "score")),
          );
          scoreTextMs.push(
            await timeMs(async () => expect((await engine.score(request, textClaim)).accepted, "text score")),
          );
        }
        if (label === "") {
          report(`replay_cost_ratio${suffix}`, best(replayMs) / best(generateMs), "x");
          report(`prefill_cost_ratio${suffix}`, best(prefillMs) / best(generateMs), "x");
        }
        report(`score_cost_ratio${label}${suffix}`, best(scoreMs) / best(generateMs), "x");
        if (label !== "_greedy")
          report(`score_text_cost_ratio${label}${suffix}`, best(scoreTextMs) / best(generateMs), "x");
      }
    }
  } finally {
    await engine.stop();
  }
}

await benchShape("", undefined);
await benchShape("_l4w256", { layers: 4, width: 256, heads: 8, kvHeads: 4, feedForward: 768 });
// ~25M parameters: where compute, not per-call overhead, decides what verification costs.
if (!VERIFICATION_ONLY)
  await benchShape("_l8w512", { layers: 8, width: 512, heads: 8, kvHeads: 4, feedForward: 1536 }, 3);
await llama.dispose();
