import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { PreparedGeneration } from "../embedded/EmbeddedEngine.js";
import type { GenerationEnd } from "../embedded/generate.js";
import { TextAssembler } from "../embedded/TextAssembler.js";
import { InvalidRequestError } from "../errors.js";
import type { Claim } from "./claim.js";
import { ForcedSequence, type ReadPlan } from "./ForcedSequence.js";
import { GrammarCursor } from "./GrammarCursor.js";
import { Mt19937 } from "./mersenneTwister.js";
import { type Candidate, checkToken, replicateChain, type TokenCheck } from "./samplerReplica.js";

/**
 * How far (in logits) the verifier's prefill may differ from the producer's step-by-step decoding and still
 * count as the same computation. Measured on the tiny models (test/verification.test.ts and `npm run bench --
 * engine`): the largest difference seen is below 0.005; FACTS.md reports up to ~0.01 on a larger model. 0.05
 * leaves room for other CPUs of the same echelon while widening each accepted draw slice by only a few percent.
 */
export const SCORE_LOGIT_TOLERANCE = 0.05;

/** Text claims: how many tokens on each side of the sampler's pick may be the one the tolerance admits. */
const NEIGHBOURS = 3;

/** Text claims: guessed tokens evaluated at once after the walk leaves the canonical spelling. */
const REFILL_WINDOW = 16;

/** Text claims: how often the walk may go back to an ambiguous spelling before it gives up. */
const MAX_BACKTRACKS = 32;

/** Extra candidates fetched beyond top-k, so tokens near the cut can be judged with the tolerance. */
const TOP_K_MARGIN = 16;

export interface ScoreOptions {
  /** @default SCORE_LOGIT_TOLERANCE */
  tolerance?: number | undefined;
  /**
   * Read every position's whole candidate set (top-k and its margin) instead of settling a sampler's exact pick from
   * the top k + 1 (greedy: the top 2). The same result, slower: for showing that it is the same. Text claims always
   * read the whole set.
   */
  exhaustiveReadout?: boolean | undefined;
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
  finishReason?: GenerationEnd | undefined;
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
  const { loaded, sampling, promptTokens, maxTokens, grammar } = prepared;
  const model = loaded.model;
  const scored: ScoredToken[] = [];
  const verdict = (reason?: string, finishReason?: GenerationEnd): ScoreResult => ({
    accepted: reason === undefined,
    reason,
    firstRejected: scored.find((t) => t.verdict === "rejected")?.index,
    tokens: scored,
    tolerance,
    completionTokens: scored.length,
    finishReason,
  });
  const ended = (finishReason: GenerationEnd, text: string): ScoreResult => {
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

  const isEog = (token: number) => !sampling.ignoreEos && model.isEogToken(token as Token);
  const random = new Mt19937(sampling.seed);
  const draws: (number | undefined)[] = [];
  const drawAt = (j: number) => {
    while (draws.length <= j) draws.push(sampling.temperature > 0 ? random.nextCanonical() : undefined);
    return draws[j];
  };
  const newAssembler = () => new TextAssembler(loaded.detokenize, sampling.stop);
  let assembler = newAssembler();
  // Under a grammar the candidates are the tokens it allows, wherever they rank: every logit is needed. A text
  // claim's guess (the text tokenized the canonical way) parts from the sampler's picks often enough (a third of the
  // reads of an honest 256-token answer on the tiny model) that a short read first costs more than it saves.
  const textMode = claim.tokenIds === undefined;
  const plan: ReadPlan = grammar
    ? { readout: "all" }
    : readPlanFor(sampling, drawAt, textMode || options.exhaustiveReadout === true);
  const cursor = grammar && new GrammarCursor(model, grammar);
  /** Candidates for completion token `j` (after the tokens scored so far), best first. */
  const candidatesAt = (j: number, claimed: number | undefined): Candidate[] => {
    const sorted = forced.candidates(j) ?? [];
    if (!cursor) return sorted;
    cursor.follow(scored.map((t) => t.token));
    const limit =
      sampling.temperature <= 0 ? 8 : sampling.topK > 0 ? sampling.topK + TOP_K_MARGIN : undefined;
    const allowed = cursor.allowed(sorted, limit);
    const claimedAt = sorted.find((c) => c.token === claimed);
    if (claimedAt && !allowed.includes(claimedAt) && cursor.allows(claimedAt.token)) allowed.push(claimedAt);
    return allowed;
  };
  const claimedText = claim.text ?? "";
  let guess = textMode ? model.tokenize(claimedText, false) : [...claim.tokenIds!];
  if (!textMode && guess.length > maxTokens)
    return verdict(`${guess.length} tokens claimed, max_tokens allows ${maxTokens}`);
  const forced = await ForcedSequence.start(sequence, promptTokens, guess.slice(0, maxTokens), plan);
  /** Position where `guess` starts. */
  let guessAt = 0;
  /** Text claims: where the claimed spelling and the sampler's pick were both within tolerance, the road not taken. */
  const branches: { index: number; token: number; check: TokenCheck; guess: number[]; guessAt: number }[] =
    [];
  let backtracks = 0;
  let chosen: { token: number; check: TokenCheck } | undefined;
  /** The first way the walk failed: what a rejection reports when no branch saves it. */
  let firstFailure: ScoreResult | undefined;

  /** Whether a failed text walk can go back to the last open branch (then it has). */
  const backtrack = (): boolean => {
    const branch = branches.pop();
    if (!branch || ++backtracks > MAX_BACKTRACKS) return false;
    scored.length = branch.index;
    assembler = newAssembler();
    for (const earlier of scored) if (!isEog(earlier.token)) assembler.push(earlier.token);
    guess = branch.guess;
    guessAt = branch.guessAt;
    chosen = { token: branch.token, check: branch.check };
    return true;
  };

  for (let j = 0; ; j++) {
    if (j >= maxTokens) {
      const finish: GenerationEnd = assembler.finish().stopped ? "stop" : "length";
      const result = ended(finish, assembler.text);
      if (result.accepted || !textMode) return result;
      firstFailure ??= { ...result, tokens: [...result.tokens] };
      if (!backtrack()) return firstFailure;
      j = scored.length;
    }
    const guessed = guess[j - guessAt];
    let token: number;
    let check: TokenCheck;
    if (chosen) {
      ({ token, check } = chosen);
      chosen = undefined;
    } else {
      if (guessed === undefined && !textMode) {
        if (claim.finishReason === "length")
          return verdict(`the claim ends by length after ${j} of ${maxTokens} tokens`);
        return verdict(
          "the claimed tokens end without an end-of-generation token, a stop sequence or max_tokens",
        );
      }
      const candidates = candidatesAt(j, guessed);
      if (candidates.length === 0) return verdict(`token ${j}: the output grammar allows no token`);
      const draw = drawAt(j);
      const options = textMode
        ? acceptable(candidates, guessed, sampling, draw, tolerance)
        : [{ token: guessed!, check: checkToken(candidates, guessed!, sampling, draw, tolerance) }];
      const [claimedCheck] = options;
      if (!textMode && claimedCheck?.check.verdict === "rejected" && cursor && !cursor.allows(guessed!))
        claimedCheck.check.why = "the output grammar does not allow it";
      // A text claim names characters, not tokens: where the tolerance leaves several tokens open, try the
      // claimed spelling first, then the others in order, coming back here if a choice fails later.
      const [first, ...others] = options;
      for (const other of others.reverse()) branches.push({ index: j, ...other, guess, guessAt });
      ({ token, check } = first ?? {
        token: guessed ?? candidates[0]!.token,
        check: rejectedCheck(),
      });
    }
    scored.push({ index: j, token, ...check, inferred: textMode && token !== guessed ? true : undefined });
    const step = await advance(j, token, check);
    if (step === "continue") continue;
    if (step.accepted || !textMode) return step;
    firstFailure ??= { ...step, tokens: [...step.tokens] };
    if (!backtrack()) return firstFailure;
    j = scored.length - 1;
  }

  /** Consequences of taking `token` at position `j`: the completion ends, fails, or goes on. */
  async function advance(j: number, token: number, check: TokenCheck): Promise<ScoreResult | "continue"> {
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
    if (j + 1 < maxTokens && token !== guess[j - guessAt]) {
      // Off the guess: once no character is half spelled, re-tokenize what the claim still has to say.
      guessAt = j + 1;
      const rest = claimedText.slice(assembler.text.length);
      guess =
        assembler.complete && rest.length > 0
          ? model.tokenize(rest, false).slice(0, maxTokens - guessAt)
          : [];
      await forced.replace(j, token, guess.slice(0, REFILL_WINDOW));
    } else if (j + 1 < maxTokens && forced.candidates(j + 1) === undefined) {
      // Past what was evaluated after the last change of course: the next stretch of the guess.
      const from = j + 1 - guessAt;
      await forced.replace(j, token, guess.slice(from, from + REFILL_WINDOW));
    }
    return "continue";
  }
}

/**
 * Tokens a text claim may have at this step, best first: the claimed spelling when the sampler could have picked
 * it, then the sampler's pick and its neighbours in sampling order that the tolerance admits.
 */
function acceptable(
  candidates: readonly Candidate[],
  guessed: number | undefined,
  sampling: PreparedGeneration["sampling"],
  draw: number | undefined,
  tolerance: number,
): { token: number; check: TokenCheck }[] {
  const options: { token: number; check: TokenCheck }[] = [];
  const consider = (token: number) => {
    if (options.some((option) => option.token === token)) return;
    const check = checkToken(candidates, token, sampling, draw, tolerance);
    if (check.verdict !== "rejected") options.push({ token, check });
  };
  if (guessed !== undefined) {
    consider(guessed);
    if (options[0]?.check.verdict === "exact") return options;
  }
  if (sampling.temperature <= 0 || draw === undefined) {
    for (const candidate of candidates.slice(0, NEIGHBOURS)) consider(candidate.token);
    return options;
  }
  const chain = replicateChain(candidates, sampling, draw);
  consider(chain.kept[chain.picked]!.token);
  for (let distance = 1; distance <= NEIGHBOURS; distance++)
    for (const at of [chain.picked - distance, chain.picked + distance]) {
      const neighbour = chain.kept[at];
      if (neighbour) consider(neighbour.token);
    }
  return options;
}

function rejectedCheck(): TokenCheck {
  return {
    verdict: "rejected",
    logprob: -Infinity,
    rank: 0,
    logitGap: Infinity,
    why: "no token spells the claimed text",
    draw: undefined,
    acceptedDraws: undefined,
  };
}

/**
 * Which logits to fetch at a step: the top-k and a margin when top-k applies (the top 8 greedy), else all of them.
 * Where the claimed token is the sampler's exact pick, the top k + 1 (greedy: the top 2) settle its check: the pick,
 * its probability and its slice of the draws come from the k kept tokens alone, and the one after them shows that no
 * token tied with the k-th could have been kept instead. Elsewhere (another token, a tie at the cut) the check needs
 * the margin, so the position's read widens to it. Every pair a read-out hands over costs the main thread about as
 * much as a read-out of one (docs/soundness.md, "The tolerant check's cost").
 */
function readPlanFor(
  sampling: PreparedGeneration["sampling"],
  drawAt: (j: number) => number | undefined,
  exhaustive: boolean,
): ReadPlan {
  if (sampling.temperature <= 0) {
    const wider = { top: 8 };
    if (exhaustive) return { readout: wider };
    return {
      readout: { top: 2 },
      wider,
      settles: (_, claimed, [first, second]) =>
        first?.token === claimed && (second === undefined || first.logit > second.logit),
    };
  }
  if (sampling.topK <= 0) return { readout: "all" };
  const k = sampling.topK;
  const wider = { top: k + TOP_K_MARGIN };
  if (exhaustive) return { readout: wider };
  return {
    readout: { top: k + 1 },
    wider,
    settles: (j, claimed, candidates) => {
      if (candidates.length > k && !(candidates[k - 1]!.logit > candidates[k]!.logit)) return false;
      const draw = drawAt(j);
      if (draw === undefined) return false;
      const chain = replicateChain(candidates, sampling, draw);
      return chain.kept[chain.picked]?.token === claimed;
    },
  };
}
