import { firstDownCrossing, wilsonInterval } from "./statistics.js";

export interface CrossingEstimate {
  /**
   * Where the cheaters' realized profit per stack falls below the honest nodes': the zero of the least-squares
   * line through (p, cheater − honest profit per stack) over the sweep.
   */
  p: number | undefined;
  /**
   * A 95 % interval from the binomial count of catches: detection grows as β·p, β is estimated from every catch
   * of the sweep (Wilson interval on the pooled count), and the crossing moves as 1/β.
   */
  low: number | undefined;
  high: number | undefined;
  /** The first fall below zero between neighbouring sweep points, without fitting. */
  interpolated: number | undefined;
  /** Detections per unit of p per cheat (β̂), about 1 − r^N when every check finds the cheat. */
  detectionPerP: number | undefined;
}

interface PointFigures {
  p: number;
  cheats: number;
  caught: number;
  honest: { profitPerStack: number };
  cheater: { profitPerStack: number };
}

function leastSquaresZero(xs: readonly number[], ys: readonly number[]): number | undefined {
  const n = xs.length;
  if (n < 2) return undefined;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  if (sxx === 0 || sxy >= 0) return undefined;
  const slope = sxy / sxx;
  return mx - my / slope;
}

export function estimateCrossing(points: readonly PointFigures[]): CrossingEstimate {
  const xs = points.map((pt) => pt.p);
  const gap = points.map((pt) => pt.cheater.profitPerStack - pt.honest.profitPerStack);
  const p = leastSquaresZero(xs, gap);
  const interpolated = firstDownCrossing(xs, gap);
  const checked = points.filter((pt) => pt.p > 0);
  const caught = checked.reduce((sum, pt) => sum + pt.caught, 0);
  const cheats = checked.reduce((sum, pt) => sum + pt.cheats, 0);
  const exposure = checked.reduce((sum, pt) => sum + pt.p * pt.cheats, 0);
  if (p === undefined || caught === 0 || exposure === 0)
    return { p, low: undefined, high: undefined, interpolated, detectionPerP: undefined };
  const beta = caught / exposure;
  const rate = wilsonInterval(caught, cheats);
  const scale = cheats / exposure;
  const [betaLow, betaHigh] = [rate.low * scale, rate.high * scale];
  return {
    p,
    low: (p * beta) / betaHigh,
    high: betaLow > 0 ? (p * beta) / betaLow : undefined,
    interpolated,
    detectionPerP: beta,
  };
}
