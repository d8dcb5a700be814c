/** A two-sided confidence interval for a binomial proportion: Wilson's score interval (z = 1.96 gives 95 %). */
export function wilsonInterval(successes: number, trials: number, z = 1.96): { low: number; high: number } {
  if (trials === 0) return { low: 0, high: 1 };
  const phat = successes / trials;
  const z2 = z * z;
  const centre = (phat + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z * Math.sqrt((phat * (1 - phat)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * The first x at which `ys` falls from ≥ 0 to below 0, linearly interpolated between neighbouring points; the
 * first x when `ys` starts below 0; undefined when it never falls below. Points must be sorted by x.
 */
export function firstDownCrossing(xs: readonly number[], ys: readonly number[]): number | undefined {
  if (ys.length > 0 && ys[0]! < 0) return xs[0];
  for (let i = 1; i < xs.length; i++) {
    const y0 = ys[i - 1]!;
    const y1 = ys[i]!;
    if (y0 >= 0 && y1 < 0) {
      const x0 = xs[i - 1]!;
      const x1 = xs[i]!;
      return x0 + ((x1 - x0) * y0) / (y0 - y1);
    }
  }
  return undefined;
}

/** A normal interval for a mean from its running sums (z = 3.29 gives 99.9 %); fine once trials are in the thousands. */
export function meanInterval(
  sum: number,
  sumOfSquares: number,
  trials: number,
  z: number,
): { mean: number; low: number; high: number } {
  const mean = sum / trials;
  const variance = trials > 1 ? Math.max(0, (sumOfSquares - trials * mean * mean) / (trials - 1)) : 0;
  const half = z * Math.sqrt(variance / trials);
  return { mean, low: mean - half, high: mean + half };
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed exactly in log space. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let logC = 0;
  for (let i = 1; i <= k; i++) logC += Math.log(n - k + i) - Math.log(i);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    sum += Math.exp(logC + i * Math.log(p) + (n - i) * Math.log1p(-p));
    logC += Math.log(n - i) - Math.log(i + 1);
  }
  return Math.min(1, sum);
}

/**
 * The counts a Binomial(n, p) outcome falls within except with probability at most `alpha`: the smallest `low`
 * with P(X < low) ≤ alpha/2 and the largest `high` with P(X > high) ≤ alpha/2 (exact tails, no approximation).
 */
export function binomialAcceptance(n: number, p: number, alpha: number): { low: number; high: number } {
  let low = 0;
  while (low < n && 1 - binomialUpperTail(low + 1, n, p) <= alpha / 2) low++;
  let high = n;
  while (high > 0 && binomialUpperTail(high, n, p) <= alpha / 2) high--;
  return { low, high };
}
