import { InvalidInputError } from "../errors.js";
import {
  type AttesterOutcome,
  checkEligibleSet,
  type EligibleSet,
  privateDrawOutcomes,
  publicDrawOutcomes,
} from "./attesterOutcomes.js";
import { type GameParameters, ImpossibleParametersError, validateGame } from "./replicationRate.js";

/**
 * How a cheater's own attesters behave. Under a public draw they know the whole set, so they copy its answer
 * (and are paid) exactly when every attester is theirs. Under private selection nobody knows whether an honest
 * node was selected too, so they never report: a copy beside an honest attester's answer would lose them their
 * collateral as well ("silent"). But seats land on-chain as they come, so they can wait for the window's end and
 * seat one of theirs when no honest node has: then a settlement nobody honest checks pays the cheater W2, not W1,
 * and when one has, they seat too and report truthfully, paid their share ("last-mover", the pessimistic case,
 * which private selection as built allows).
 */
export type Colluders = "copy-when-all-ours" | "silent" | "last-mover";

/**
 * Appendix A's expected rewards per request, over any distribution of attester outcomes. Honest: R − C, plus the
 * party's share i/k of the attesters' pay R when k ≥ 1 attest. Cheating: W1 when nobody honest checks (W2 when
 * its copying attesters are the whole set), otherwise caught: −C − S, plus its attesters' pay when they reported.
 * With `publicDrawOutcomes(p, N, {adversary})` and "copy-when-all-ours" these are Lemmas A.1 and A.2 exactly.
 */
export function expectedRewards(
  parameters: GameParameters,
  outcomes: readonly AttesterOutcome[],
  colluders: Colluders,
): { honest: number; cheater: number } {
  const { reward: R, cost: C, collateral: S, cheatUnchecked, cheatColluding } = validateGame(parameters);
  let honest = 0;
  let cheater = 0;
  for (const { honest: h, colluding: i, lazy = 0, probability } of outcomes) {
    const k = h + i + lazy;
    if (k === 0) {
      honest += probability * (R - C);
      cheater += probability * cheatUnchecked;
      continue;
    }
    const share = (i * R) / k;
    honest += probability * (R - C + share);
    // Caught. Its attesters are paid for reporting where they saw the set (public draw) or an honest seat (last mover).
    if (h > 0) cheater += probability * ((colluders === "silent" ? 0 : share) - C - S);
    else if (colluders === "silent") cheater += probability * cheatUnchecked;
    else if (colluders === "last-mover") cheater += probability * (i > 0 ? cheatColluding : cheatUnchecked);
    else cheater += probability * cheatColluding;
  }
  return { honest, cheater };
}

/** The cheat-pays threshold p*: above it, cheating loses money in expectation. */
export function cheatPaysThreshold(
  parameters: GameParameters,
  outcomesAt: (rate: number) => AttesterOutcome[],
  colluders: Colluders,
  maxRate = 1,
): number {
  const margin = (p: number) => {
    const { honest, cheater } = expectedRewards(parameters, outcomesAt(p), colluders);
    return honest - cheater;
  };
  // The margin is not linear in p under private selection: scan for the last rate where cheating still pays,
  // then bisect the step after it.
  const steps = 2_000;
  let lastPaying = -1;
  for (let s = 0; s <= steps; s++) if (margin((maxRate * s) / steps) <= 0) lastPaying = s;
  if (lastPaying === -1) return 0;
  if (lastPaying === steps)
    throw new ImpossibleParametersError(
      `cheating pays at every sampling rate up to ${maxRate}: raise collateral or reward`,
    );
  let low = (maxRate * lastPaying) / steps;
  let high = (maxRate * (lastPaying + 1)) / steps;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (margin(mid) <= 0) low = mid;
    else high = mid;
  }
  return high;
}

/** What `atoma econ` prints for attester selection on a finite eligible set. */
export interface SelectionComparison extends EligibleSet {
  attesters: number;
  /** p* under today's public draw of N from the eligible set, without replacement. */
  publicThreshold: number;
  /** p* under private self-selection with q = p·N/n and silent colluders. */
  privateThreshold: number;
  /**
   * p* under private self-selection when the cheater's own selected node seats last whenever no honest one did (it
   * sees the seats on-chain), taking W2: the pessimistic figure, at least `privateThreshold`.
   */
  privateThresholdLastMover: number;
  /** At p = privateThreshold: q, P(K = 0) = (1 − q)ⁿ, its bound e^(−pN), and P(caught) = 1 − (1 − q)^(n−m). */
  selectionProbability: number;
  noAttesterProbability: number;
  noAttesterBound: number;
  privateDetection: number;
  /** At p = publicThreshold: P(caught) = p·(1 − P(all N drawn are the cheater's)). */
  publicDetection: number;
}

/**
 * P(a cheater is caught) under private selection: some diligent honest node selected itself,
 * 1 − (1 − q)^(n − m − lazy).
 */
export function privateDetectionProbability(rate: number, attesters: number, set: EligibleSet): number {
  checkEligibleSet(set);
  const q = (rate * attesters) / set.eligible;
  const diligent = set.eligible - set.colluding - (set.lazy ?? 0);
  return q >= 1 ? 1 : -Math.expm1(diligent * Math.log1p(-q));
}

/** P(nobody selects itself) = (1 − q)ⁿ, and the bound e^(−nq) = e^(−pN) that holds whatever n is. */
export function noAttesterProbability(rate: number, attesters: number, eligible: number) {
  const q = (rate * attesters) / eligible;
  return { exact: q >= 1 ? 0 : Math.exp(eligible * Math.log1p(-q)), bound: Math.exp(-rate * attesters) };
}

export function compareSelection(parameters: GameParameters, set: EligibleSet): SelectionComparison {
  checkEligibleSet(set);
  const attesters = parameters.attesters ?? 1;
  if (attesters > set.eligible - set.colluding - (set.lazy ?? 0))
    throw new InvalidInputError(
      `${attesters} attesters need at least as many diligent honest eligible nodes, got ${set.eligible - set.colluding - (set.lazy ?? 0)}`,
    );
  const publicOutcomes = (p: number) => publicDrawOutcomes(p, attesters, set);
  const publicThreshold = cheatPaysThreshold(parameters, publicOutcomes, "copy-when-all-ours");
  const privateThreshold = cheatPaysThreshold(
    parameters,
    (p) => privateDrawOutcomes(p, attesters, set),
    "silent",
    Math.min(1, set.eligible / attesters),
  );
  const privateThresholdLastMover = cheatPaysThreshold(
    parameters,
    (p) => privateDrawOutcomes(p, attesters, set),
    "last-mover",
    Math.min(1, set.eligible / attesters),
  );
  const none = noAttesterProbability(privateThreshold, attesters, set.eligible);
  const escapesPublic = publicOutcomes(publicThreshold)
    .filter((o) => o.honest === 0)
    .reduce((sum, o) => sum + o.probability, 0);
  return {
    ...set,
    attesters,
    publicThreshold,
    privateThreshold,
    privateThresholdLastMover,
    selectionProbability: (privateThreshold * attesters) / set.eligible,
    noAttesterProbability: none.exact,
    noAttesterBound: none.bound,
    privateDetection: privateDetectionProbability(privateThreshold, attesters, set),
    publicDetection: 1 - escapesPublic,
  };
}
