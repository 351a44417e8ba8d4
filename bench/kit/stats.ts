// Benchmark statistics: medians of repeated measurements, percentiles that say how many samples they rest on, rates from cumulative counters, rounding.

/** The fewest samples a percentile is quoted from; a figure from fewer says so in its unit. */
export const MIN_PERCENTILE_SAMPLES = 20;

/** The median (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank quantile: never an interpolation, so with n < 1 / (1 - q) samples it is the largest. NaN for no samples. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Spread {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  return { n: values.length, min: Math.min(...values), p50: quantile(values, 0.5), p90: quantile(values, 0.9), p99: quantile(values, 0.99), max: Math.max(...values) };
}

/**
 * What a nearest-rank quantile of `n` samples is, in words for a unit string: "" when it rests on
 * enough samples, else why it should not be quoted as that percentile.
 */
export function quantileCaveat(q: number, n: number): string {
  if (n < MIN_PERCENTILE_SAMPLES) return `: only ${n} samples, fewer than the ${MIN_PERCENTILE_SAMPLES} a percentile needs`;
  if (Math.ceil(q * n) >= n) return `: of ${n} samples the nearest-rank p${Math.round(q * 100)} is the largest (it takes ${Math.ceil(1 / (1 - q))} for one below it)`;
  return '';
}

/** A median rate and how many one-second steps it is the median of. */
export interface MedianRate {
  readonly perS: number;
  readonly steps: number;
}

/**
 * The median rate over one-second steps of a cumulative counter sampled as {t (ms), n}, between
 * `fromMs` and `toMs` after the first sample. The median, because this machine is shared: a few seconds
 * of someone else's load should not decide the figure.
 */
export function medianRate(samples: ReadonlyArray<{ t: number; n: number }>, fromMs: number, toMs: number): MedianRate {
  if (samples.length < 2) return { perS: 0, steps: 0 };
  const t0 = samples[0]!.t;
  const inside = samples.filter((s) => s.t - t0 >= fromMs && s.t - t0 <= toMs);
  const rates: number[] = [];
  for (let i = 0, j = 0; i < inside.length; i++) {
    while (j < inside.length && inside[j]!.t - inside[i]!.t < 1000) j++;
    if (j >= inside.length) break;
    rates.push(((inside[j]!.n - inside[i]!.n) * 1000) / (inside[j]!.t - inside[i]!.t));
    i = j - 1;
  }
  return { perS: rates.length === 0 ? 0 : median(rates), steps: rates.length };
}

/** `n` with at most `digits` decimals. */
export function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}
