import { InvalidInputError } from "../errors.js";
import { binomialPmf, checkEligibleSet, type EligibleSet, hypergeometricPmf } from "./attesterOutcomes.js";

/**
 * What happens to a settlement that must be checked after its selection window (docs/vrf.md): left as it is
 * ("none", unsafe), N attesters drawn publicly only when nobody seated ("public-draw", the first design), public
 * attesters added up to N whenever fewer than N seated ("public-top-up", what `SettlementDraw` does), or the
 * payment held and a fresh private draw run on a later block until someone seats ("held-payment").
 */
export type SelectionFallback = "none" | "public-draw" | "public-top-up" | "held-payment";
export const SELECTION_FALLBACKS = ["none", "public-draw", "public-top-up", "held-payment"] as const;

export interface MustCheckOdds {
  /** P(K = 0) = (1 − N/n)ⁿ for an honest server; ≤ e^(−N). */
  noAttester: number;
  noAttesterBound: number;
  /** P(no honest node selected) = (1 − N/n)^(n − m): seats are public, so the cheater sees it before it acts. */
  noCommit: number;
  /** P(the cheater is never caught), after the fallback, when it plays the last mover (below). */
  escape: number;
  /** Expected private draws until a seat when the payment is held: 1 / (1 − noCommit). */
  heldDraws: number;
}

/**
 * A settlement that must be checked with N expected attesters (`committeeSortition`, q = N/n), against a cheater
 * that owns m of the n candidates and moves last: seats land in public as they come, so its A selected nodes wait
 * for the window's end, stay silent when an honest node seated (a copy beside it would lose a dispute), and
 * otherwise seat min(A, N) of their own with its answer. The escape is P(H = 0) times what the fallback then
 * leaves it: everything ("none"); P(A ≥ 1) + P(A = 0)·C(m, N)/C(n, N) ("public-draw", which fires only when nobody
 * seated); Σₐ P(A = a)·C(m − s, N − s)/C(n − s, N − s) with s = min(a, N) ("public-top-up": the public draw fills
 * the seats up to N from the others); and P(A ≥ 1)/(1 − P(H = 0)·P(A = 0)) ("held-payment": redrawn until a seat).
 */
export function mustCheckOdds(
  set: EligibleSet,
  attesters: number,
  fallback: SelectionFallback,
): MustCheckOdds {
  checkEligibleSet(set);
  const n = set.eligible;
  const m = set.colluding;
  const N = attesters;
  if (!Number.isSafeInteger(N) || N < 1 || N > n)
    throw new InvalidInputError(`attesters must be a whole number in [1, ${n}], got ${N}`);
  const q = N / n;
  const noAttester = q >= 1 ? 0 : Math.exp(n * Math.log1p(-q));
  const noCommit = q >= 1 ? 0 : Math.exp((n - m) * Math.log1p(-q));
  const ours = (a: number) => binomialPmf(m, q, a);
  /** P(a public draw of N − s among the n − s not seated names only the cheater's m − s). */
  const allOurs = (s: number) => (s >= N ? 1 : hypergeometricPmf(n - s, m - s, N - s, N - s));
  let left: number;
  if (fallback === "none") left = 1;
  else if (fallback === "public-draw") left = 1 - ours(0) + ours(0) * allOurs(0);
  else if (fallback === "public-top-up") {
    left = 0;
    for (let a = 0; a <= m; a++) left += ours(a) * allOurs(Math.min(a, N));
  } else left = (1 - ours(0)) / (1 - noCommit * ours(0));
  return {
    noAttester,
    noAttesterBound: Math.exp(-N),
    noCommit,
    escape: noCommit * left,
    heldDraws: 1 / (1 - noCommit),
  };
}
