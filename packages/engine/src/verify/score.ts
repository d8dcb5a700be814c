import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from "node-llama-cpp";
import type { PreparedGeneration } from "../embedded/EmbeddedEngine.js";
import { modelDetokenizer } from "../embedded/generate.js";
import { TextAssembler } from "../embedded/TextAssembler.js";
import { InvalidRequestError } from "../errors.js";
import type { FinishReason } from "../openai/responses.js";
import type { Claim } from "./claim.js";
import { Mt19937 } from "./mersenneTwister.js";
import {
  type Candidate,
  checkToken,
  replicateChain,
  sortCandidates,
  type TokenCheck,
} from "./samplerReplica.js";

/**
 * How far (in logits) the verifier's prefill may differ from the producer's step-by-step decoding and still
 * count as the same computation. Measured on the tiny models (test/verification.test.ts, `npm run bench --
 * engine`): differences stay below 0.005 (FACTS.md reports up to ~0.01 on a larger model); 0.05 leaves a wide
 * margin for other CPUs of the same echelon while keeping each accepted draw slice a few percent wider at most.
 */
export const SCORE_LOGIT_TOLERANCE = 0.05;

/** Extra candidates fetched beyond top-k, so tokens near the cut can be judged with the tolerance. */
const TOP_K_MARGIN = 16;

export interface ScoreOptions {
  /** @default SCORE_LOGIT_TOLERANCE */
  tolerance?: number | undefined;
}

export interface ScoredToken extends TokenCheck {
  /** Position in the completion. */
  index: number;
  token: number;
  /** True for the terminator the verifier inferred after a text claim (it is not in the claimed text). */
  inferred?: boolean | undefined;
}

export interface ScoreResult {
  accepted: boolean;
  /** Why the claim was rejected. */
  reason?: string | undefined;
  /** Position of the first token that failed, when one did. */
  firstRejected?: number | undefined;
  tokens: ScoredToken[];
  tolerance: number;
  /** Tokens the completion consists of by this check (claimed tokens plus any inferred terminator). */
  completionTokens: number;
  finishReason?: FinishReason | undefined;
}

/** Teacher-forces the claimed tokens in one prefill and checks each, then how the completion ended. */
export async function score(
  prepared: PreparedGeneration,
  sequence: LlamaContextSequence,
  claim: Claim,
  options: ScoreOptions,
): Promise<ScoreResult> {
  const tolerance = options.tolerance ?? SCORE_LOGIT_TOLERANCE;
  const { loaded, sampling, promptTokens, maxTokens } = prepared;
  const model = loaded.model;
  const tokens = claimedTokens(prepared, claim);
  const scored: ScoredToken[] = [];
  const result = (reason?: string, finishReason?: FinishReason): ScoreResult => {
    const firstRejected = scored.find((t) => t.verdict === "rejected")?.index;
    return {
      accepted: reason === undefined,
      reason,
      firstRejected,
      tokens: scored,
      tolerance,
      completionTokens: scored.length,
      finishReason,
    };
  };
  if (tokens.length === 0 && claim.finishReason === "length")
    return result("an empty completion cannot end by length");
  if (tokens.length > maxTokens)
    return result(`${tokens.length} tokens claimed, max_tokens allows ${maxTokens}`);

  const eog = [model.tokens.eos, model.tokens.eot].filter((t): t is Token => t != null);
  const isEog = (token: number) => !sampling.ignoreEos && model.isEogToken(token as Token);
  const wanted = (next: number | undefined) => logitsRequest(sampling, next, eog);
  const items: ControlledEvaluateInputItem[] = promptTokens.slice(0, -1) as Token[];
  items.push([promptTokens.at(-1) as Token, { generateNext: { logits: wanted(tokens[0]) } }]);
  for (const [i, token] of tokens.entries())
    items.push([token as Token, { generateNext: { logits: wanted(tokens[i + 1]) } }]);
  await sequence.clearHistory();
  const evaluated = await sequence.controlledEvaluate(items);
  const logitsAt = (i: number) =>
    evaluated[promptTokens.length - 1 + i]?.next.logits ?? new Map<number, number>();

  const random = new Mt19937(sampling.seed);
  const nextDraw = () => (sampling.temperature > 0 ? random.nextCanonical() : undefined);
  const assembler = new TextAssembler(modelDetokenizer(model), sampling.stop, promptTokens);
  for (const [index, token] of tokens.entries()) {
    const check = checkToken(sortCandidates(logitsAt(index)), token, sampling, nextDraw(), tolerance);
    scored.push({ index, token, ...check });
    if (check.verdict === "rejected") return result(`token ${index} (${token}): ${check.why}`);
    const last = index === tokens.length - 1;
    if (isEog(token)) {
      if (!last) return result(`token ${index} ends generation, yet the claim goes on`);
      return finish(claim, result, scored.length, "stop");
    }
    if (assembler.push(token).stopped) {
      if (!last) return result(`a stop sequence ends the text at token ${index}, yet the claim goes on`);
      return finish(claim, result, scored.length, "stop", assembler, claim.text);
    }
  }
  if (assembler.finish().stopped) return finish(claim, result, scored.length, "stop", assembler, claim.text);
  if (tokens.length === maxTokens)
    return finish(claim, result, scored.length, "length", assembler, claim.text);
  if (claim.finishReason === "length")
    return result(`the claim ends by length after ${tokens.length} of ${maxTokens} tokens`);
  if (claim.tokenIds !== undefined)
    return result("the claimed tokens end without an end-of-generation token, a stop sequence or max_tokens");

  // A text claim ended by "stop": its terminator is not in the text; sample it (and any stop sequence) onward.
  let logits = logitsAt(tokens.length);
  const limit = Math.min(
    maxTokens,
    tokens.length + 4 * Math.max(1, ...sampling.stop.map((s) => s.length)) + 4,
  );
  const tail = new TextAssembler(modelDetokenizer(model), sampling.stop, promptTokens);
  for (const token of tokens) tail.push(token);
  for (let index = tokens.length; index < limit; index++) {
    const candidates = sortCandidates(logits);
    const draw = nextDraw();
    const token = pick(candidates, sampling, draw);
    scored.push({
      index,
      token,
      inferred: true,
      ...checkToken(candidates, token, sampling, draw, tolerance),
    });
    if (isEog(token) || tail.push(token).stopped)
      return finish(claim, result, scored.length, "stop", tail, claim.text);
    const [next] = await sequence.controlledEvaluate([
      [token as Token, { generateNext: { logits: wanted(undefined) } }],
    ]);
    logits = next?.next.logits ?? new Map();
  }
  return result("the text ends where honest decoding neither stops nor runs out of tokens");
}

/** Final consistency checks once the completion's end is established. */
function finish(
  claim: Claim,
  result: (reason?: string, finishReason?: FinishReason) => ScoreResult,
  completionTokens: number,
  finishReason: FinishReason,
  assembler?: TextAssembler,
  claimedText?: string,
): ScoreResult {
  if (claim.finishReason != null && claim.finishReason !== finishReason)
    return result(
      `the claim says finish_reason "${claim.finishReason}", the tokens end by "${finishReason}"`,
    );
  if (
    assembler &&
    claimedText !== undefined &&
    claim.tokenIds !== undefined &&
    assembler.text !== claimedText
  )
    return result("the claimed text is not what the claimed tokens spell");
  if (claim.completionTokens !== undefined && claim.completionTokens !== completionTokens)
    return result(
      `usage claims ${claim.completionTokens} completion tokens; the completion has ${completionTokens}`,
    );
  return result(undefined, finishReason);
}

function claimedTokens(prepared: PreparedGeneration, claim: Claim): number[] {
  if (claim.tokenIds !== undefined) return [...claim.tokenIds];
  if (claim.text === undefined) throw new InvalidRequestError("a claim needs its text or its token ids");
  return prepared.loaded.model.tokenize(claim.text, false);
}

/** Which logits to fetch at a step: the top-k (plus a margin) when top-k applies, else all of them. */
function logitsRequest(
  sampling: PreparedGeneration["sampling"],
  claimed: number | undefined,
  eog: readonly Token[],
): true | { filter: { tokens: Token[]; includeTop: number } } {
  const tokens = claimed === undefined ? [...eog] : [claimed as Token, ...eog];
  if (sampling.temperature <= 0) return { filter: { tokens, includeTop: 8 } };
  if (sampling.topK > 0) return { filter: { tokens, includeTop: sampling.topK + TOP_K_MARGIN } };
  return true;
}

function pick(
  candidates: readonly Candidate[],
  sampling: PreparedGeneration["sampling"],
  draw: number | undefined,
) {
  if (sampling.temperature <= 0 || draw === undefined) return candidates[0]!.token;
  const chain = replicateChain(candidates, sampling, draw);
  return chain.kept[chain.picked]!.token;
}
