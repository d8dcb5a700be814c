import { compareSelection, InvalidInputError, minimumReplicationRate } from "@atoma/core";
import type { SimulationOptions } from "./options.js";

export interface ReplicationTargets {
  /** Corollary 1 with C the cheater's saving per stack: C·s·f / ((1 − r)(R + S)). */
  corollary: number;
  /** Theorem A.3 with the run's N and a cheater's unchecked take W1 = R − (1 − s·f)·C. */
  theorem: number;
  /**
   * Corollary 1 for this finite network: a cheater's attesters come from the other nodes, so all N collude with
   * probability (c−1)/(n−1) · (c−2)/(n−2) ⋯ (c cheaters of n), a little below r^N.
   */
  finiteNetwork: number;
  /**
   * p* if the attesters selected themselves in private by VRF (docs/vrf.md) on the same n − 1 eligible nodes, c − 1
   * of them the cheater's; undefined where that cannot be computed (too few honest nodes for N).
   */
  privateSelection: number | undefined;
}

/** The replication rates core's economics (whitepaper Appendix A) give for the run's parameters. */
export function replicationTargets(o: SimulationOptions, cheaters: number): ReplicationTargets {
  const saved = o.cost * o.saving * o.cheatShare;
  const corollary = minimumReplicationRate({
    reward: o.reward,
    cost: saved,
    collateral: o.collateral,
    adversary: o.adversary,
  }).corollaryMinimum;
  const theorem = minimumReplicationRate({
    reward: o.reward,
    cost: o.cost,
    collateral: o.collateral,
    adversary: o.adversary,
    attesters: o.attesters,
    cheatUnchecked: o.reward - (1 - o.saving * o.cheatShare) * o.cost,
  }).theoremMinimum;
  let colluding = 1;
  for (let i = 0; i < o.attesters; i++) colluding *= Math.max(0, cheaters - 1 - i) / (o.nodes - 1 - i);
  const finiteNetwork = saved / ((1 - colluding) * (o.reward + o.collateral));
  return { corollary, theorem, finiteNetwork, privateSelection: privateSelectionTarget(o, cheaters) };
}

function privateSelectionTarget(o: SimulationOptions, cheaters: number): number | undefined {
  try {
    return compareSelection(
      {
        reward: o.reward,
        cost: o.cost,
        collateral: o.collateral,
        adversary: o.adversary,
        attesters: o.attesters,
        cheatUnchecked: o.reward - (1 - o.saving * o.cheatShare) * o.cost,
      },
      { eligible: o.nodes - 1, colluding: cheaters - 1 },
    ).privateThreshold;
  } catch (error) {
    if (error instanceof InvalidInputError) return undefined;
    throw error;
  }
}

/** The rates to sweep: the explicit ones, or `points` evenly from 0 to twice p* (capped at 1). */
export function sweepRates(o: SimulationOptions, pStar: number): number[] {
  if (o.pValues !== undefined) return o.pValues;
  const top = Math.min(1, 2 * pStar);
  const rates = Array.from({ length: o.pPoints }, (_, i) => (top * i) / Math.max(1, o.pPoints - 1));
  // The contract draws in parts per million: sweep exactly what it will use.
  return [...new Set(rates.map((p) => Math.round(p * 1_000_000) / 1_000_000))];
}
