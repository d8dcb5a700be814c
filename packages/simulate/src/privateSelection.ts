import {
  attesterSortition,
  compareSelection,
  expectedRewards,
  isSelected,
  noSelectionBound,
  noSelectionProbability,
  privateDetectionProbability,
  privateDrawOutcomes,
  sortitionSeed,
  vrfEvaluate,
} from "@atoma/core";
import { concat, type Hex, keccak256, stringToBytes } from "viem";
import { cheaterCount, type SimulationOptions, SimulationOptionsError } from "./options.js";
import { seededPrivateKey } from "./random.js";
import { meanInterval, wilsonInterval } from "./statistics.js";

/** z for a two-sided 99.9 % interval: a measured rate outside it would happen by chance once in a thousand. */
export const TOLERANCE_Z = 3.29;

/** What `atoma econ simulate --private-selection` runs. */
export interface PrivateSelectionOptions
  extends Pick<
    SimulationOptions,
    "nodes" | "adversary" | "attesters" | "reward" | "cost" | "collateral" | "saving" | "cheatShare" | "seed"
  > {
  /** A cheater's settlements drawn at each rate. @default 4000 */
  settlements: number;
  /** Honest nodes that, when selected, copy instead of recomputing. @default 0 */
  lazy: number;
  /** Rates to draw at, whole parts per million; default: the private p* halved, p* and doubled. */
  pValues?: number[] | undefined;
  /** Evaluate the real ECVRF for every node (about 3 ms each) instead of a keccak stand-in for its output. */
  vrf: boolean;
}

export interface MeasuredRate {
  count: number;
  measured: number;
  expected: number;
  interval: { low: number; high: number };
  /** `expected` lies in the 99.9 % Wilson interval around `measured`. */
  within: boolean;
}

export interface PrivateSelectionPoint {
  p: number;
  /** Each node's selection probability p·N/n. */
  q: number;
  settlements: number;
  /** Settlements nobody selected itself for: expected (1 − q)ⁿ, bounded by e^(−pN). */
  noAttester: MeasuredRate & { bound: number };
  /** Settlements at least one diligent honest node selected itself for: expected 1 − (1 − q)^(n − m − lazy). */
  detection: MeasuredRate;
  meanAttesters: { measured: number; expected: number };
  /**
   * What honesty earns over cheating per settlement, TOMA: R − C plus the party's attesters' share, against W1
   * unchecked or −C − S caught. Positive above p*. The interval is normal, from the sample standard deviation.
   */
  margin: { measured: number; expected: number; interval: { low: number; high: number }; within: boolean };
}

export interface PrivateSelectionResult {
  options: PrivateSelectionOptions;
  eligible: number;
  colluding: number;
  publicThreshold: number;
  privateThreshold: number;
  points: PrivateSelectionPoint[];
  /** Every measured rate and margin within its interval. */
  consistent: boolean;
}

function marginAgainst(
  measured: { mean: number; low: number; high: number },
  rewards: { honest: number; cheater: number },
): PrivateSelectionPoint["margin"] {
  const expected = rewards.honest - rewards.cheater;
  return {
    measured: measured.mean,
    expected,
    interval: { low: measured.low, high: measured.high },
    within: expected >= measured.low && expected <= measured.high,
  };
}

function measure(count: number, trials: number, expected: number): MeasuredRate {
  const interval = wilsonInterval(count, trials, TOLERANCE_Z);
  return {
    count,
    measured: count / trials,
    expected,
    interval,
    within: expected >= interval.low && expected <= interval.high,
  };
}

/**
 * A cheater's settlements, each with a seed from a block it could not know: every eligible node evaluates its
 * VRF on the seed and selects itself when the output is under the threshold (core's `isSelected`, the same test
 * as the contracts'). The cheater's own nodes stay silent; lazy ones echo it; only diligent honest nodes catch
 * it. Measured no-attester and detection rates are set against the formulas, with binomial intervals.
 */
export function runPrivateSelection(o: PrivateSelectionOptions): PrivateSelectionResult {
  const eligible = o.nodes - 1;
  const colluding = cheaterCount(o) - 1;
  if (o.lazy < 0 || colluding + o.lazy >= eligible)
    throw new SimulationOptionsError(`--lazy leaves no diligent honest node among the ${eligible} eligible`);
  const saved = o.cost * o.saving * o.cheatShare;
  const game = {
    reward: o.reward,
    cost: o.cost,
    collateral: o.collateral,
    adversary: o.adversary,
    attesters: o.attesters,
    cheatUnchecked: o.reward - o.cost + saved,
  };
  const set = { eligible, colluding, lazy: o.lazy };
  const comparison = compareSelection(game, set);
  const ppm = (p: number) => Math.round(p * 1e6) / 1e6;
  const rates = (
    o.pValues ?? [
      comparison.privateThreshold / 2,
      comparison.privateThreshold,
      2 * comparison.privateThreshold,
    ]
  )
    .map((p) => ppm(Math.min(p, 1)))
    .filter((p) => p > 0);
  const keys = Array.from({ length: eligible }, (_, i) => seededPrivateKey(o.seed, `vrf-node-${i}`));
  const output = (key: Hex, input: Hex): Hex =>
    o.vrf ? vrfEvaluate(key, input) : keccak256(concat([key, input]));
  const points = rates.map((p, r) => {
    const draw = attesterSortition(eligible, p, o.attesters);
    let none = 0;
    let caught = 0;
    let selectedTotal = 0;
    let marginSum = 0;
    let marginSquares = 0;
    for (let s = 0; s < o.settlements; s++) {
      const settlementId = keccak256(stringToBytes(`atoma-simulate:${o.seed}:settlement:${r}:${s}`));
      const laterBlock = keccak256(stringToBytes(`atoma-simulate:${o.seed}:block:${r}:${s}`));
      const input = sortitionSeed(settlementId, laterBlock, "attest");
      let selected = 0;
      let ours = 0;
      let diligent = 0;
      for (let node = 0; node < eligible; node++) {
        if (!isSelected(output(keys[node]!, input), draw)) continue;
        selected++;
        // Nodes 0 … m − 1 are the cheater's, the next `lazy` copy; the rest recompute.
        if (node < colluding) ours++;
        else if (node >= colluding + o.lazy) diligent++;
      }
      selectedTotal += selected;
      if (selected === 0) none++;
      if (diligent > 0) caught++;
      const honest = o.reward - o.cost + (selected > 0 ? (ours * o.reward) / selected : 0);
      const margin = honest - (diligent > 0 ? -o.cost - o.collateral : game.cheatUnchecked);
      marginSum += margin;
      marginSquares += margin * margin;
    }
    return {
      p,
      q: draw.probability,
      settlements: o.settlements,
      noAttester: {
        ...measure(none, o.settlements, noSelectionProbability(draw)),
        bound: noSelectionBound(draw),
      },
      detection: measure(caught, o.settlements, privateDetectionProbability(p, o.attesters, set)),
      meanAttesters: { measured: selectedTotal / o.settlements, expected: draw.expected },
      margin: marginAgainst(
        meanInterval(marginSum, marginSquares, o.settlements, TOLERANCE_Z),
        expectedRewards(game, privateDrawOutcomes(p, o.attesters, set), "silent"),
      ),
    };
  });
  return {
    options: o,
    eligible,
    colluding,
    publicThreshold: comparison.publicThreshold,
    privateThreshold: comparison.privateThreshold,
    points,
    consistent: points.every((pt) => pt.noAttester.within && pt.detection.within && pt.margin.within),
  };
}
