import { InvalidInputError } from "../errors.js";

/**
 * One way the attesters of a settlement can turn out, with its probability: `honest` of them recompute and
 * report, `colluding` belong to the party whose settlement it is. Zero of both: nobody checks.
 */
export interface AttesterOutcome {
  honest: number;
  colluding: number;
  /** Selected honest nodes that copy instead of recomputing: they attest, are paid, and catch nothing. */
  lazy?: number | undefined;
  probability: number;
}

/**
 * Who may attest: `eligible` nodes (the server excluded), `colluding` of them the server's own and `lazy` of the
 * others copiers; the rest recompute.
 */
export interface EligibleSet {
  eligible: number;
  colluding: number;
  /** @default 0 */
  lazy?: number | undefined;
}

export function checkEligibleSet(set: EligibleSet): void {
  if (!Number.isSafeInteger(set.eligible) || set.eligible < 1)
    throw new InvalidInputError(`eligible must be a whole number of at least 1, got ${set.eligible}`);
  const lazy = set.lazy ?? 0;
  if (!Number.isSafeInteger(lazy) || lazy < 0)
    throw new InvalidInputError(`lazy must be a whole number, got ${lazy}`);
  if (!Number.isSafeInteger(set.colluding) || set.colluding < 0 || set.colluding + lazy >= set.eligible)
    throw new InvalidInputError(
      `colluding must be a whole number in [0, ${set.eligible - lazy}) (someone must be honest and diligent), got ${set.colluding}`,
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
  if ("adversary" in population) {
    for (let i = 0; i <= attesters; i++)
      outcomes.push({
        honest: attesters - i,
        colluding: i,
        probability: rate * binomialPmf(attesters, population.adversary, i),
      });
    return outcomes;
  }
  checkEligibleSet(population);
  const { eligible: n, colluding: m, lazy: lazyNodes = 0 } = population;
  const diligentNodes = n - m - lazyNodes;
  // Multivariate hypergeometric: i of the cheater's, l lazy, the rest diligent, N drawn without replacement.
  for (let i = 0; i <= Math.min(attesters, m); i++)
    for (let l = 0; l <= Math.min(attesters - i, lazyNodes); l++) {
      const h = attesters - i - l;
      if (h > diligentNodes) continue;
      const share = Math.exp(
        logChoose(m, i) + logChoose(lazyNodes, l) + logChoose(diligentNodes, h) - logChoose(n, attesters),
      );
      outcomes.push({
        honest: h,
        colluding: i,
        ...(lazyNodes > 0 ? { lazy: l } : {}),
        probability: rate * share,
      });
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
 * Private self-selection (docs/vrf.md): each eligible node selects itself alone with q = p·N/n. The diligent,
 * the colluding and the lazy counts are independent, Binomial(n − m − l, q), Binomial(m, q) and Binomial(l, q).
 */
export function privateDrawOutcomes(rate: number, attesters: number, set: EligibleSet): AttesterOutcome[] {
  checkRate(rate);
  checkEligibleSet(set);
  const q = selectionProbability(rate, attesters, set.eligible);
  const lazyNodes = set.lazy ?? 0;
  const diligentNodes = set.eligible - set.colluding - lazyNodes;
  const outcomes: AttesterOutcome[] = [];
  for (let h = 0; h <= diligentNodes; h++) {
    const ph = binomialPmf(diligentNodes, q, h);
    for (let c = 0; c <= set.colluding; c++) {
      const phc = ph * binomialPmf(set.colluding, q, c);
      if (lazyNodes === 0) outcomes.push({ honest: h, colluding: c, probability: phc });
      else
        for (let l = 0; l <= lazyNodes; l++)
          outcomes.push({
            honest: h,
            colluding: c,
            lazy: l,
            probability: phc * binomialPmf(lazyNodes, q, l),
          });
    }
  }
  return outcomes;
}
