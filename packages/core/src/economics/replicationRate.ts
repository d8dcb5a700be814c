import { InvalidInputError } from "../errors.js";

/**
 * Parameters of the cross-validation game (whitepaper Appendix A). Amounts share one unit, usually the native
 * inference cost C.
 */
export interface GameParameters {
  /** R: what an honest node is paid for a request. */
  reward: number;
  /** C: what running the inference costs the node. */
  cost: number;
  /** S: the collateral a node loses when caught. */
  collateral: number;
  /** r: the largest share of the network one party controls, 0 < r < 1. */
  adversary: number;
  /** N: attesters sampled when verification happens. @default 1 */
  attesters?: number | undefined;
  /** W1: a cheater's take when nobody checks. @default reward */
  cheatUnchecked?: number | undefined;
  /** W2: a cheater's take when every attester is its own. @default 2 × reward */
  cheatColluding?: number | undefined;
}

export interface ReplicationBounds {
  /** Corollary 1: p > C / ((1 − r)(R + S)) (N = 1, W1 = R, W2 = 2R). */
  corollaryMinimum: number;
  /** Theorem A.3 solved for p with the given N, W1, W2. */
  theoremMinimum: number;
}

export class ImpossibleParametersError extends InvalidInputError {
  override name = "ImpossibleParametersError";
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidInputError(`${name} must be a positive number`);
}

/** Every parameter present and checked. */
export type ResolvedGame = { [K in keyof GameParameters]-?: number };

export function validateGame(game: GameParameters): ResolvedGame {
  positive("reward", game.reward);
  positive("cost", game.cost);
  positive("collateral", game.collateral);
  if (!(game.adversary > 0 && game.adversary < 1))
    throw new InvalidInputError("adversary share must be strictly between 0 and 1");
  const attesters = game.attesters ?? 1;
  if (!Number.isSafeInteger(attesters) || attesters < 1)
    throw new InvalidInputError("attesters must be a whole number of at least 1");
  if (game.reward <= game.cost)
    throw new ImpossibleParametersError("reward must exceed cost: an honest node would work at a loss");
  const cheatUnchecked = game.cheatUnchecked ?? game.reward;
  const cheatColluding = game.cheatColluding ?? 2 * game.reward;
  if (cheatUnchecked < 0 || cheatColluding < 0)
    throw new InvalidInputError("cheating rewards cannot be negative");
  return { ...game, attesters, cheatUnchecked, cheatColluding };
}

/**
 * Theorem A.3, R + pS − (1−p)W1 − C + (1 − rᴺ − (1−r)ᴺ)pC > p rᴺ (W2 + S − R), is linear in p:
 * p · A > B with A = S + W1 + (1 − rᴺ − (1−r)ᴺ)C − rᴺ(W2 + S − R) and B = C + W1 − R.
 */
function theoremMinimum(game: ResolvedGame): number {
  const { reward: R, cost: C, collateral: S, adversary: r, attesters: N } = game;
  const allColluding = r ** N;
  const noneColluding = (1 - r) ** N;
  const slope =
    S +
    game.cheatUnchecked +
    (1 - allColluding - noneColluding) * C -
    allColluding * (game.cheatColluding + S - R);
  const threshold = C + game.cheatUnchecked - R;
  if (threshold <= 0) return 0;
  if (slope <= 0)
    throw new ImpossibleParametersError(
      "no replication rate makes honesty pay: collateral is too small for this adversary",
    );
  return threshold / slope;
}

/** The smallest replication rates p at which honesty is the winning strategy. */
export function minimumReplicationRate(parameters: GameParameters): ReplicationBounds {
  const game = validateGame(parameters);
  const bounds = {
    corollaryMinimum: game.cost / ((1 - game.adversary) * (game.reward + game.collateral)),
    theoremMinimum: theoremMinimum(game),
  };
  if (bounds.theoremMinimum >= 1)
    throw new ImpossibleParametersError(
      `honesty would need p = ${bounds.theoremMinimum.toPrecision(3)} ≥ 1: raise collateral or reward`,
    );
  return bounds;
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** Lemma A.1: an honest node's expected reward per request at replication rate p. */
export function expectedHonestReward(parameters: GameParameters, p: number): number {
  const { reward: R, cost: C, adversary: r, attesters: N } = validateGame(parameters);
  let checked = 0;
  for (let i = 0; i <= N; i++)
    checked += binomial(N, i) * r ** i * (1 - r) ** (N - i) * ((i * R) / N + R - C);
  return (1 - p) * (R - C) + p * checked;
}

/**
 * Lemma A.2: a cheater's expected reward per request at replication rate p. When every attester is its own it
 * keeps W2; otherwise it is caught and loses its collateral (the sum runs over i < N colluding attesters).
 */
export function expectedCheaterReward(parameters: GameParameters, p: number): number {
  const game = validateGame(parameters);
  const { reward: R, cost: C, collateral: S, adversary: r, attesters: N } = game;
  let caught = 0;
  for (let i = 0; i < N; i++) caught += binomial(N, i) * r ** i * (1 - r) ** (N - i) * ((i * R) / N - C - S);
  return (1 - p) * game.cheatUnchecked + p * r ** N * game.cheatColluding + p * caught;
}

/** Whitepaper §2.6: the chance that a tampered output settles when all n sampled nodes must agree, M = rⁿ. */
export function tamperedSettlementProbability(adversary: number, nodes: number): number {
  if (!(adversary > 0 && adversary < 1))
    throw new InvalidInputError("adversary share must be strictly between 0 and 1");
  if (!Number.isSafeInteger(nodes) || nodes < 1)
    throw new InvalidInputError("nodes must be a whole number of at least 1");
  return adversary ** nodes;
}
