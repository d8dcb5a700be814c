import { InvalidInputError } from "../errors.js";

/**
 * The wash-trading parameters, as fractions: `burn` of every fee burned (b), emission at most `emissionPerBurn`
 * times what a node's fees burned (m), and at most `stakeYield` of its stake per epoch (y).
 */
export interface WashParameters {
  burn: number;
  emissionPerBurn: number;
  stakeYield: number;
}

export interface SelfDealingBound {
  /** The share of its capital a self-dealer does best to put through itself: where its caps meet, m·b·F = y·(C − F). */
  bestSplit: number;
  /** Its gain at that split, per unit of capital: y·(m − 1)·b / (m·b + y) (zero or less when m ≤ 1). */
  bestGain: number;
  /** That gain over an honest staker's emission at its cap (y per unit of capital): always below (m − 1)/m. */
  shareOfHonest: number;
}

/**
 * The most a self-dealer earns in an epoch, per unit of capital, under the emission rule (docs/soundness.md, "Wash
 * trading"): its self-paid fees F come back less b·F, and its emission is at most min(m·b·F, y·(C − F)).
 */
export function selfDealingBound(p: WashParameters): SelfDealingBound {
  for (const [name, value] of Object.entries(p))
    if (!Number.isFinite(value) || value < 0) throw new InvalidInputError(`${name} must be a number ≥ 0`);
  if (p.stakeYield === 0) return { bestSplit: 0, bestGain: 0, shareOfHonest: 0 };
  const perFee = p.emissionPerBurn * p.burn;
  const bestSplit = p.stakeYield / (perFee + p.stakeYield);
  const bestGain = Math.max(0, p.stakeYield * (1 - bestSplit) - p.burn * bestSplit);
  return { bestSplit, bestGain, shareOfHonest: bestGain / p.stakeYield };
}
