// The Hive partition paths of a time range (dt=…/hour=…/), and the start time a partition path names, so the console lists only recent folders.

/** Ranges longer than this are listed by day (dt=…/) instead of by hour. */
const HOURLY_UP_TO_MS = 6 * 3600 * 1000;

/** Partition prefixes (ending in "/") covering [fromMs, toMs]: hours for short ranges, days for long ones. */
export function partitionPrefixes(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  const byDay = toMs - fromMs > HOURLY_UP_TO_MS;
  const step = byDay ? 86_400_000 : 3_600_000;
  for (let t = Math.floor(fromMs / step) * step; t <= toMs; t += step) {
    const iso = new Date(t).toISOString();
    out.push(byDay ? `dt=${iso.slice(0, 10)}/` : `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`);
  }
  return out;
}

/** The UTC start (ms) named by the partition keys in `path` (…dt=2026-11-22/hour=21[/minute=52[/second=20]]/…), or undefined. */
export function partitionStartMs(path: string): number | undefined {
  const m = /(?:^|\/)dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})\/(?:minute=(\d{2})\/(?:second=(\d{2})\/)?)?/.exec(path);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5] ?? 0), Number(m[6] ?? 0));
}
