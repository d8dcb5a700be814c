import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { PreparedGeneration } from "../embedded/EmbeddedEngine.js";
import { modelDetokenizer } from "../embedded/generate.js";
import { TextAssembler } from "../embedded/TextAssembler.js";
import { InvalidRequestError } from "../errors.js";
import type { FinishReason } from "../openai/responses.js";
import type { Claim } from "./claim.js";
import { ForcedSequence, type LogitsWanted } from "./ForcedSequence.js";
import { Mt19937 } from "./mersenneTwister.js";
import { checkToken, replicateChain, sortCandidates, type TokenCheck } from "./samplerReplica.js";

/**
 * How far (in logits) the verifier's prefill may differ from the producer's step-by-step decoding and still
 * count as the same computation. Measured on the tiny models (test/verification.test.ts and `npm run bench --
 * engine`): the largest difference seen is below 0.005; FACTS.md reports up to ~0.01 on a larger model. 0.05
 * leaves room for other CPUs of the same echelon while widening each accepted draw slice by only a few percent.
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
  /** True for tokens the verifier chose itself (a text claim names characters, not tokens). */
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
  /** Tokens the completion consists of by this check (its terminator included). */
  completionTokens: number;
  finishReason?: FinishReason | undefined;
}

/**
 * Checks a claimed completion without regenerating it. Claimed tokens are teacher-forced in one prefill and each
 * is tested against the request's sampler, replicated with its seeded draws, within the logit tolerance. A claim
 * of text only is tokenized the canonical way and checked the same; where honest decoding spelled the text with
 * other tokens (byte fallback), the verifier follows the sampler's own pick as long as it spells the claimed text.
 * Then the end must be honest: an end-of-generation token, a stop sequence, or max_tokens.
 */
export async function score(
  prepared: PreparedGeneration,
  sequence: LlamaContextSequence,
  claim: Claim,
  options: ScoreOptions,
): Promise<ScoreResult> {
  if (claim.text === undefined && claim.tokenIds === undefined)
    throw new InvalidRequestError("a claim needs its text or its token ids");
  const tolerance = options.tolerance ?? SCORE_LOGIT_TOLERANCE;
  const { loaded, sampling, promptTokens, maxTokens } = prepared;
  const model = loaded.model;
  const scored: ScoredToken[] = [];
  const verdict = (reason?: string, finishReason?: FinishReason): ScoreResult => ({
    accepted: reason === undefined,
    reason,
    firstRejected: scored.find((t) => t.verdict === "rejected")?.index,
    tokens: scored,
    tolerance,
    completionTokens: scored.length,
    finishReason,
  });
  const ended = (finishReason: FinishReason, text: string): ScoreResult => {
    if (claim.finishReason != null && claim.finishReason !== finishReason)
      return verdict(
        `the claim says finish_reason "${claim.finishReason}", the tokens end by "${finishReason}"`,
      );
    if (claim.text !== undefined && text !== claim.text)
      return verdict("the claimed text is not what the tokens spell");
    if (claim.completionTokens !== undefined && claim.completionTokens !== scored.length)
      return verdict(
        `usage claims ${claim.completionTokens} completion tokens; the completion has ${scored.length}`,
      );
    return verdict(undefined, finishReason);
  };

  const eog = [model.tokens.eos, model.tokens.eot].filter((t): t is Token => t != null);
  const isEog = (token: number) => !sampling.ignoreEos && model.isEogToken(token as Token);
  const random = new Mt19937(sampling.seed);
  const nextDraw = () => (sampling.temperature > 0 ? random.nextCanonical() : undefined);
  const assembler = new TextAssembler(modelDetokenizer(model), sampling.stop, promptTokens);
  const wanted = (next: number | undefined) => logitsWanted(sampling, next, eog);
  const textMode = claim.tokenIds === undefined;
  const claimedText = claim.text ?? "";
  let guess = textMode ? model.tokenize(claimedText, false) : [...claim.tokenIds!];
  if (!textMode && guess.length > maxTokens)
    return verdict(`${guess.length} tokens claimed, max_tokens allows ${maxTokens}`);
  const forced = await ForcedSequence.start(sequence, promptTokens, guess.slice(0, maxTokens), wanted);
  /** Position where `guess` starts. */
  let guessAt = 0;

  for (let j = 0; j < maxTokens; j++) {
    const candidates = sortCandidates(forced.logits(j) ?? new Map());
    const draw = nextDraw();
    const guessed = guess[j - guessAt];
    if (guessed === undefined && !textMode) {
      if (claim.finishReason === "length")
        return verdict(`the claim ends by length after ${j} of ${maxTokens} tokens`);
      return verdict(
        "the claimed tokens end without an end-of-generation token, a stop sequence or max_tokens",
      );
    }
    let token = guessed ?? samplerPick(candidates, sampling, draw);
    let check = checkToken(candidates, token, sampling, draw, tolerance);
    if (check.verdict !== "exact" && textMode && guessed !== undefined) {
      // Honest decoding may spell the same text with other tokens (byte fallback): follow the sampler's pick.
      token = samplerPick(candidates, sampling, draw);
      check = checkToken(candidates, token, sampling, draw, tolerance);
    }
    scored.push({ index: j, token, ...check, inferred: textMode && token !== guessed ? true : undefined });
    if (check.verdict === "rejected") return verdict(`token ${j} (${token}): ${check.why}`);

    const last = !textMode && j === guess.length - 1;
    if (isEog(token)) {
      if (!last && !textMode) return verdict(`token ${j} ends generation, yet the claim goes on`);
      assembler.finish();
      return ended("stop", assembler.text);
    }
    if (assembler.push(token).stopped) {
      if (!last && !textMode)
        return verdict(`a stop sequence ends the text at token ${j}, yet the claim goes on`);
      return ended("stop", assembler.text);
    }
    if (textMode && !claimedText.startsWith(assembler.settledText))
      return verdict(`token ${j} (${token}) spells text the claim does not have`);
    if (j + 1 === maxTokens) break;
    if (token !== guessed) {
      // Off the guess: once no character is half spelled, re-tokenize what the claim still has to say.
      guessAt = j + 1;
      const rest = claimedText.slice(assembler.text.length);
      guess =
        assembler.complete && rest.length > 0
          ? model.tokenize(rest, false).slice(0, maxTokens - guessAt)
          : [];
      await forced.replace(j, token, guess);
    }
  }
  return ended(assembler.finish().stopped ? "stop" : "length", assembler.text);
}

/** The token the request's sampler picks with this draw (the highest logit when greedy). */
function samplerPick(
  candidates: ReturnType<typeof sortCandidates>,
  sampling: PreparedGeneration["sampling"],
  draw: number | undefined,
): number {
  if (sampling.temperature <= 0 || draw === undefined) return candidates[0]!.token;
  const chain = replicateChain(candidates, sampling, draw);
  return chain.kept[chain.picked]!.token;
}

/** Which logits to fetch at a step: the top-k (plus a margin) when top-k applies, else all of them. */
function logitsWanted(
  sampling: PreparedGeneration["sampling"],
  claimed: number | undefined,
  eog: readonly Token[],
): LogitsWanted {
  const tokens = claimed === undefined ? [...eog] : [claimed as Token, ...eog];
  if (sampling.temperature <= 0) return { filter: { tokens, includeTop: 8 } };
  if (sampling.topK > 0) return { filter: { tokens, includeTop: sampling.topK + TOP_K_MARGIN } };
  return true;
}
