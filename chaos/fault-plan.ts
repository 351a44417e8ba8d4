// The chaos suite's schedule of faults: drawn from a seeded PRNG, so a seed names one run's faults exactly.
//
// Pure: no I/O, no clock. run-chaos.ts carries the plan out; the same seed, duration and sizes give
// the same plan (timing on a busy machine still varies, so a failure reproduces as "the same faults
// at the same offsets", not as the same interleaving to the microsecond).
import { seededRandom } from '../services/storage/seeded-random.ts';

export type FaultKind =
  /** SIGKILL a worker process; start a new one after restartAfterS. */
  | 'kill-worker'
  /** SIGKILL a checker process; start a new one after restartAfterS. */
  | 'kill-checker'
  /** SIGKILL an SDK publisher process; a new incarnation (new publisher id) starts after restartAfterS. */
  | 'kill-publisher'
  /** SIGKILL the gateway; a new one starts after restartAfterS (clients retry meanwhile). */
  | 'kill-gateway'
  /** Pub/Sub unreachable for everyone in the pipeline, for durationS: connections refused, or held without a byte passing. */
  | 'pubsub-cut'
  /** A worker's storage writes fail for durationS (its temp folder is replaced by a file). */
  | 'storage-fail'
  /** Copies of `count` messages already published are published again (duplicate deliveries). */
  | 'duplicates'
  /** `count` malformed messages are published straight to event topics; each must be dead-lettered. */
  | 'malformed'
  /** A publisher whose clock is skewOffsetS off (negative: behind) publishes for durationS, then closes. */
  | 'skewed-publisher';

export interface Fault {
  readonly atS: number;
  readonly kind: FaultKind;
  /** Index of the process (worker, checker, publisher) the fault hits. */
  readonly target?: number;
  readonly durationS?: number;
  readonly restartAfterS?: number;
  readonly mode?: 'refuse' | 'blackhole';
  readonly count?: number;
  readonly skewOffsetS?: number;
}

export interface PlanSizes {
  readonly durationS: number;
  readonly windowS: number;
  readonly workers: number;
  readonly checkers: number;
  readonly publishers: number;
  /** Mean seconds between faults (besides one of each kind). Default: 6. */
  readonly meanGapS?: number;
  /** Worker kills the run must carry out: the plan holds two more (default 0: one, as every kind). */
  readonly workerKills?: number;
}

/** The suite's PRNG (mulberry32): every random draw of a run comes from the seed. */
export const prng = seededRandom;

export const FAULT_KINDS: readonly FaultKind[] = ['kill-worker', 'kill-checker', 'kill-publisher', 'kill-gateway', 'pubsub-cut', 'storage-fail', 'duplicates', 'malformed', 'skewed-publisher'];

/**
 * One of every kind at a random time in the middle of the run (two skewed publishers: one clock
 * behind, one ahead), then more at random (exponential gaps of meanGapS), then more worker kills
 * until there are twice `workerKills`; none in the first 4 s (start-up) or the last 4 s; every restart and
 * every outage ends before the run does, so the audit sees a healed pipeline.
 */
export function planFaults(seed: number, s: PlanSizes): Fault[] {
  const random = prng(seed);
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const pick = (n: number) => Math.floor(random() * n);
  const first = 4;
  const last = Math.max(first + 1, s.durationS - 4);
  const make = (kind: FaultKind, atS: number): Fault => {
    const room = Math.max(1, last - atS); // what is left of the run for outages and restarts
    const at = round1(atS);
    switch (kind) {
      case 'kill-worker':
        return { atS: at, kind, target: pick(s.workers), restartAfterS: round1(Math.min(room, between(0.5, 4))) };
      case 'kill-checker':
        return { atS: at, kind, target: pick(s.checkers), restartAfterS: round1(Math.min(room, between(1, 8))) };
      case 'kill-publisher':
        return { atS: at, kind, target: pick(s.publishers), restartAfterS: round1(Math.min(room, between(0.5, 4))) };
      case 'kill-gateway':
        return { atS: at, kind, restartAfterS: round1(Math.min(room, between(1, 5))) };
      case 'pubsub-cut':
        return { atS: at, kind, mode: random() < 0.5 ? 'refuse' : 'blackhole', durationS: round1(Math.min(room, between(1, 8))) };
      case 'storage-fail':
        return { atS: at, kind, target: pick(s.workers), durationS: round1(Math.min(room, between(1, 10))) };
      case 'duplicates':
        return { atS: at, kind, count: 5 + pick(20) };
      case 'malformed':
        return { atS: at, kind, count: 3 + pick(8) };
      case 'skewed-publisher':
        return skewed(at, room, random() < 0.5 ? 'behind' : 'ahead');
    }
  };
  // Behind by a fraction of a window up to several windows, or ahead by up to one window.
  const skewed = (at: number, room: number, way: 'behind' | 'ahead'): Fault => ({
    atS: at,
    kind: 'skewed-publisher',
    skewOffsetS: round1(way === 'behind' ? -between(0.3, 3) * s.windowS : between(0.2, 1) * s.windowS),
    durationS: round1(Math.min(room, between(5, 20))),
  });
  const middle = () => between(first, Math.max(first + 0.1, last * 0.75));
  const faults: Fault[] = [];
  for (const kind of FAULT_KINDS) {
    if (kind !== 'skewed-publisher') faults.push(make(kind, middle()));
  }
  for (const way of ['behind', 'ahead'] as const) {
    const at = middle();
    faults.push(skewed(round1(at), Math.max(1, last - at), way));
  }
  const meanGap = s.meanGapS ?? 6;
  for (let t = first + -Math.log(1 - random()) * meanGap; t < last; t += -Math.log(1 - random()) * meanGap) {
    faults.push(make(FAULT_KINDS[pick(FAULT_KINDS.length)]!, t));
  }
  // Twice as many as asked: a kill planned while every worker is down (killed just before) cannot happen,
  // and one that finds its worker holding nothing does not count (a clean-clone CI run planned two more and
  // fell one short: 5 kills, 4 with messages in flight).
  const kills = s.workerKills === undefined || s.workerKills === 0 ? 0 : Math.max(s.workerKills + 2, 2 * s.workerKills);
  while (faults.filter((f) => f.kind === 'kill-worker').length < kills) faults.push(make('kill-worker', between(first, last * 0.85)));
  return faults.sort((a, b) => a.atS - b.atS);
}

export function describeFault(f: Fault): string {
  const parts = [`t=${f.atS.toFixed(1)}s`, f.kind];
  if (f.target !== undefined) parts.push(`#${f.target}`);
  if (f.mode) parts.push(f.mode);
  if (f.durationS !== undefined) parts.push(`for ${f.durationS}s`);
  if (f.restartAfterS !== undefined) parts.push(`restart after ${f.restartAfterS}s`);
  if (f.count !== undefined) parts.push(`×${f.count}`);
  if (f.skewOffsetS !== undefined) parts.push(`clock ${f.skewOffsetS >= 0 ? '+' : ''}${f.skewOffsetS}s`);
  return parts.join(' ');
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
