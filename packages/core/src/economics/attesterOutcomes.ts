import { InvalidInputError } from "../errors.js";

/**
 * One way the attesters of a settlement can turn out, with its probability: `honest` of them recompute and
 * report, `colluding` belong to the party whose settlement it is. Zero of both: nobody checks.
 */
export interface AttesterOutcome {
  honest: number;
  colluding: number;
  probability: number;
}

/** Who may attest: `eligible` nodes (the server excluded), `colluding` of them the server's own. */
export interface EligibleSet {
  eligible: number;
  colluding: number;
}

export function checkEligibleSet(set: EligibleSet): void {
  if (!Number.isSafeInteger(set.eligible) || set.eligible < 1)
    throw new InvalidInputError(`eligible must be a whole number of at least 1, got ${set.eligible}`);
  if (!Number.isSafeInteger(set.colluding) || set.colluding < 0 || set.colluding >= set.eligible)
    throw new InvalidInputError(
      `colluding must be a whole number in [0, ${set.eligible}) (someone must be honest), got ${set.colluding}`,
    );
}

function checkRate(rate: number): void {
  if (!(rate >= 0 && rate <= 1))
    throw new InvalidInputError(`the sampling rate must lie in [0, 1], got ${rate}`);
}

function logChoose(n: number, k: number): number {
  let sum = 0;
  for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i);
  return sum;
}

/** P(X = k) for X ~ Binomial(n, q), in log space so that small q keeps its precision. */
export function binomialPmf(n: number, q: number, k: number): number {
  if (k < 0 || k > n) return 0;
  if (q <= 0) return k === 0 ? 1 : 0;
  if (q >= 1) return k === n ? 1 : 0;
  return Math.exp(logChoose(n, k) + k * Math.log(q) + (n - k) * Math.log1p(-q));
}

/** P(X = k) when `draws` are taken without replacement from `total` items, `marked` of them marked. */
export function hypergeometricPmf(total: number, marked: number, draws: number, k: number): number {
  if (k < 0 || k > draws || k > marked || draws - k > total - marked) return 0;
  return Math.exp(logChoose(marked, k) + logChoose(total - marked, draws - k) - logChoose(total, draws));
}

/**
 * Today's public draw, whitepaper §2.7: with probability `rate` the settlement is sampled and `attesters` are
 * drawn. Without an eligible set each attester is the server's with probability `adversary` (Appendix A's
 * infinite network); with one, the N are drawn without replacement from it.
 */
export function publicDrawOutcomes(
  rate: number,
  attesters: number,
  population: { adversary: number } | EligibleSet,
): AttesterOutcome[] {
  checkRate(rate);
  const outcomes: AttesterOutcome[] = [{ honest: 0, colluding: 0, probability: 1 - rate }];
  for (let i = 0; i <= attesters; i++) {
    const share =
      "adversary" in population
        ? binomialPmf(attesters, population.adversary, i)
        : hypergeometricPmf(population.eligible, population.colluding, attesters, i);
    outcomes.push({ honest: attesters - i, colluding: i, probability: rate * share });
  }
  return outcomes;
}

/** The per-node selection probability of private self-selection: q = p·N/n, so that E[K] = p·N. */
export function selectionProbability(rate: number, attesters: number, eligible: number): number {
  const q = (rate * attesters) / eligible;
  if (q > 1)
    throw new InvalidInputError(
      `p·N/n = ${q} exceeds 1: ${eligible} eligible nodes cannot give ${attesters} attesters at rate ${rate}`,
    );
  return q;
}

/**
 * Private self-selection (docs/vrf.md): each eligible node selects itself alone with q = p·N/n. The honest and
 * the colluding counts are independent, Binomial(n − m, q) and Binomial(m, q).
 */
export function privateDrawOutcomes(rate: number, attesters: number, set: EligibleSet): AttesterOutcome[] {
  checkRate(rate);
  checkEligibleSet(set);
  const q = selectionProbability(rate, attesters, set.eligible);
  const honestNodes = set.eligible - set.colluding;
  const outcomes: AttesterOutcome[] = [];
  for (let h = 0; h <= honestNodes; h++) {
    const ph = binomialPmf(honestNodes, q, h);
    for (let c = 0; c <= set.colluding; c++)
      outcomes.push({ honest: h, colluding: c, probability: ph * binomialPmf(set.colluding, q, c) });
  }
  return outcomes;
}
