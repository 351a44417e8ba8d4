// Benchmark helpers: the median of repeated measurements, and rounding for printed figures.

/** The median (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `n` with at most `digits` decimals. */
export function round(n: number, digits: number): number {
  return Number(n.toFixed(digits));
}
