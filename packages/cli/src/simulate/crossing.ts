import { firstDownCrossing } from "./statistics.js";

export interface CrossingEstimate {
  /** Where the cheaters' realized profit per stack falls below the honest nodes', interpolated between rates. */
  p: number | undefined;
  /**
   * The same crossing with each rate's detection rate at the ends of its 95 % binomial (Wilson) interval: every
   * catch costs the cheater about R + S, so a detection rate d moves its profit per cheated stack by −(R + S)·d.
   */
  low: number | undefined;
  high: number | undefined;
}

interface PointFigures {
  p: number;
  cheats: number;
  stacks: number;
  detectionRate: number;
  detectionInterval: { low: number; high: number };
  honest: { profitPerStack: number };
  cheater: { profitPerStack: number; stacks: number };
}

export function estimateCrossing(points: readonly PointFigures[], lossPerCatch: number): CrossingEstimate {
  const xs = points.map((pt) => pt.p);
  const gap = points.map((pt) => pt.cheater.profitPerStack - pt.honest.profitPerStack);
  // Scale a detection-rate shift by the share of the cheaters' stacks that were cheats.
  const shift = (pt: PointFigures, d: number) =>
    pt.cheater.stacks > 0 ? (pt.cheats / pt.cheater.stacks) * lossPerCatch * (d - pt.detectionRate) : 0;
  const optimistic = points.map((pt, i) => gap[i]! - shift(pt, pt.detectionInterval.low));
  const pessimistic = points.map((pt, i) => gap[i]! - shift(pt, pt.detectionInterval.high));
  return {
    p: firstDownCrossing(xs, gap),
    low: firstDownCrossing(xs, pessimistic),
    high: firstDownCrossing(xs, optimistic),
  };
}
