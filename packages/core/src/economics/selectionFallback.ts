import { InvalidInputError } from "../errors.js";
import { checkEligibleSet, type EligibleSet, hypergeometricPmf } from "./attesterOutcomes.js";

/**
 * What happens to a settlement that must be checked when nobody commits in the window (docs/vrf.md): left
 * unchecked ("none", unsafe), N attesters drawn publicly after the window ("public-draw"), or the payment held
 * and a fresh private draw run on a later block until someone commits ("held-payment").
 */
export type SelectionFallback = "none" | "public-draw" | "held-payment";
export const SELECTION_FALLBACKS = ["none", "public-draw", "held-payment"] as const;

export interface MustCheckOdds {
  /** P(K = 0) = (1 − N/n)ⁿ for an honest server; ≤ e^(−N). */
  noAttester: number;
  noAttesterBound: number;
  /** P(no commit in the window) for a cheater whose own selected nodes stay silent: (1 − N/n)^(n − m). */
  noCommit: number;
  /** P(the cheater is never caught), after the fallback. */
  escape: number;
  /** Expected private draws until a commit when the payment is held: 1 / (1 − noCommit). */
  heldDraws: number;
}

/**
 * A settlement that must be checked with N expected attesters (`committeeSortition`, q = N/n). The protocol sees
 * only commits: a cheater's silent attesters look exactly like nobody selected, so the fallback fires on the
 * cheater's no-commit probability, not on P(K = 0).
 */
export function mustCheckOdds(
  set: EligibleSet,
  attesters: number,
  fallback: SelectionFallback,
): MustCheckOdds {
  checkEligibleSet(set);
  if (!Number.isSafeInteger(attesters) || attesters < 1 || attesters > set.eligible)
    throw new InvalidInputError(`attesters must be a whole number in [1, ${set.eligible}], got ${attesters}`);
  const q = attesters / set.eligible;
  const noAttester = q >= 1 ? 0 : Math.exp(set.eligible * Math.log1p(-q));
  const noCommit = q >= 1 ? 0 : Math.exp((set.eligible - set.colluding) * Math.log1p(-q));
  const allOursInPublicDraw = hypergeometricPmf(set.eligible, set.colluding, attesters, attesters);
  const escapes =
    fallback === "none" ? noCommit : fallback === "public-draw" ? noCommit * allOursInPublicDraw : 0;
  return {
    noAttester,
    noAttesterBound: Math.exp(-attesters),
    noCommit,
    escape: escapes,
    heldDraws: 1 / (1 - noCommit),
  };
}
