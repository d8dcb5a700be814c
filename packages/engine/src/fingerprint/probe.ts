import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from "node-llama-cpp";
import { SeededRandom } from "../tinyModel/seededRandom.js";
import { FingerprintUnavailableError } from "./errors.js";

/** Bumped whenever the probe (model, prompt, positions, steps, encoding) changes: every fingerprint changes. */
export const PROBE_VERSION = 1;

/**
 * Prompt length: past 256 tokens, where flash attention's results start to depend on the thread count, and
 * enough for batch sizes up to 299 to split it into several evaluations.
 */
export const PROBE_PROMPT_TOKENS = 300;
/** Every this many prompt positions (and at the last) the probe keeps the whole vocabulary's logits. */
export const PROBE_PREFILL_STRIDE = 37;
/** Greedy steps after the prompt, one token per evaluation (the decode path), each step's logits kept. */
export const PROBE_DECODE_STEPS = 16;
const PROMPT_SEED = 0x5052_4f4d; // "PROM"
/** The probe model's first ordinary token (after unk, bos, eos and the two chat markers). */
const FIRST_ORDINARY_TOKEN = 5;

export interface ProbeOutput {
  /** Raw logits over the whole vocabulary, in token-id order: the prefill positions, then each decode step. */
  logits: Float32Array[];
  /** The greedy continuation (ties to the lower id). */
  tokens: number[];
}

/** The probe's prompt: the model's BOS token, then seeded token ids over the ordinary vocabulary. */
export function probePrompt(bos: number, vocabularySize: number): number[] {
  const random = new SeededRandom(PROMPT_SEED);
  const span = vocabularySize - FIRST_ORDINARY_TOKEN;
  const prompt = [bos];
  while (prompt.length < PROBE_PROMPT_TOKENS)
    prompt.push(FIRST_ORDINARY_TOKEN + (random.nextUint32() % span));
  return prompt;
}

/**
 * Runs the probe on an empty sequence: the prompt in one controlled evaluation (split by the context's batch
 * size, as a request's prompt is), then greedy decoding one token per evaluation. Keeps the full logits at fixed
 * positions: every bit of them is the engine's numerics.
 */
export async function runProbe(
  sequence: LlamaContextSequence,
  bos: number,
  vocabularySize: number,
): Promise<ProbeOutput> {
  await sequence.clearHistory();
  const prompt = probePrompt(bos, vocabularySize);
  const kept = (index: number) =>
    index % PROBE_PREFILL_STRIDE === PROBE_PREFILL_STRIDE - 1 || index === prompt.length - 1;
  const items: ControlledEvaluateInputItem[] = prompt.map((token, index) =>
    kept(index) ? [token as Token, { generateNext: { logits: true } }] : (token as Token),
  );
  const results = await sequence.controlledEvaluate(items);
  const logits: Float32Array[] = [];
  for (const [index] of prompt.entries())
    if (kept(index)) logits.push(denseLogits(results[index]?.next.logits, vocabularySize));
  const tokens: number[] = [];
  for (let step = 0; step < PROBE_DECODE_STEPS; step++) {
    const token = greedy(logits.at(-1)!);
    tokens.push(token);
    const [result] = await sequence.controlledEvaluate([
      [token as Token, { generateNext: { logits: true } }],
    ]);
    logits.push(denseLogits(result?.next.logits, vocabularySize));
  }
  return { logits, tokens };
}

function denseLogits(sparse: ReadonlyMap<Token, number> | undefined, vocabularySize: number): Float32Array {
  if (!sparse || sparse.size !== vocabularySize)
    throw new FingerprintUnavailableError(
      `the probe expected ${vocabularySize} logits, llama.cpp returned ${sparse?.size ?? 0}`,
    );
  const dense = new Float32Array(vocabularySize);
  for (const [token, logit] of sparse) dense[token] = logit;
  return dense;
}

function greedy(logits: Float32Array): number {
  let best = 0;
  for (let token = 1; token < logits.length; token++) if (logits[token]! > logits[best]!) best = token;
  return best;
}
