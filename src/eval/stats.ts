// Small statistics for the eval metrics: proportions with Wilson score intervals, and means.
// Wilson (1927); the interval of choice for small n and rates near 0 or 1, where the normal (Wald) interval
// collapses to a point or leaves [0, 1] (Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial
// Proportion").

/** z of a two-sided 95% normal interval. */
export const Z_95 = 1.959963984540054;

/** A proportion count/n with its Wilson score interval; rate and ci are null when n = 0. */
export interface Rate {
  count: number;
  n: number;
  rate: number | null;
  ci: [number, number] | null;
}

/** A mean with its sample size and sample standard deviation (n − 1); null when undefined. */
export interface MeanStat {
  n: number;
  mean: number | null;
  sd: number | null;
}

/**
 * The Wilson score interval of count/n: (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).
 * Throws a RangeError unless 0 ≤ count ≤ n and n > 0 are integers.
 */
export function wilsonInterval(count: number, n: number, z = Z_95): [number, number] {
  if (!Number.isInteger(count) || !Number.isInteger(n) || n <= 0 || count < 0 || count > n)
    throw new RangeError(
      `wilsonInterval: expected integers 0 <= count <= n, n > 0; got count ${count}, n ${n}`,
    );
  const p = count / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** count/n with its Wilson interval (nulls when n = 0). */
export function rate(count: number, n: number, z = Z_95): Rate {
  return n === 0
    ? { count, n, rate: null, ci: null }
    : { count, n, rate: count / n, ci: wilsonInterval(count, n, z) };
}

/** The mean and sample standard deviation of `values` (sd null below 2 values). */
export function meanStat(values: readonly number[]): MeanStat {
  const n = values.length;
  if (n === 0) return { n, mean: null, sd: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, sd: null };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { n, mean, sd: Math.sqrt(ss / (n - 1)) };
}
