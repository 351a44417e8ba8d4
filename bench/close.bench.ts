// Benchmark: close delay (window end → _SUCCESS) under sustained end-to-end load, over at least 20 windows at each of two window lengths 5× apart; and close throughput per core.
//
// Run: node_modules/.bin/node bench/close.bench.ts [--json] [--quick] [--rate N] [--windows 10,50] [--count 20,20]
//
//   close_delay_*      close/delay.ts: the whole pipeline as processes on this machine, default settings:
//                      SDK publisher processes (2) → Pub/Sub emulator → worker process → local directory ←
//                      checker process. The load is track_played plus 2% each of ui_interaction and
//                      search_performed, so three types close per window, at 0.7 × the staging capacity
//                      measured first (close_capacity_eps: publishers at full speed), or --rate events/s.
//                      A load above capacity grows the Pub/Sub backlog for as long as it runs, and every
//                      delay with it, so at full speed a longer window would measure a longer backlog.
//                      Measured: `count` consecutive windows that are loaded from start to end (default
//                      20 of 10 s, then 20 of 50 s), each closing once per type; the delay of a close is
//                      from the window's end to its _SUCCESS (the file's modification time), and the
//                      manifest's proofDelayMs says how much of it was waiting for the close rule to hold.
//                      The spread is reported (min, p50, p90, p99, max; nearest rank, so with fewer than
//                      100 closes the p99 is the max, and the unit says so). Then every window of the run
//                      is audited: every acknowledged event once in a complete closed window's part files,
//                      nothing in late/ or the dead letters; the benchmark fails otherwise.
//                      --quick: 5-s and 25-s windows, 4 and 2 of them (fewer than 20: the units say so).
//   close_compact_*    close/compaction.ts: compactWindow alone, fast path and slow path.
import { startLocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { auditFigures, sumAudits } from './kit/closed-audit.ts';
import { killChildren } from './kit/child-process.ts';
import { mustBeZero, requireZeros, runStandalone, type BenchResult } from './kit/results.ts';
import { MIN_PERCENTILE_SAMPLES, quantileCaveat, round, spread } from './kit/stats.ts';
import { compactThroughput } from './close/compaction.ts';
import { measureLength, stagedCapacity, type LengthRun } from './close/delay.ts';

export interface BenchOptions {
  /** Window lengths (s) to compare, short then long (5× apart, so that a delay growing with the window's events shows). Default: [10, 50]. */
  windowsS?: [number, number];
  /** Windows to measure at each length. Default: [20, 20]. */
  measuredWindows?: [number, number];
  /** Total events/s the publishers aim at; 0 = as fast as backpressure allows. Default: 0.7 × the staging capacity measured first. */
  rateEps?: number;
  /** Seconds of the capacity measurement. Default: 30. */
  calibrationS?: number;
  /** SDK publisher processes. Default: 2. */
  publishers?: number;
  /** Messages of 1000 events per compaction round. Default: 200. */
  compactMessages?: number;
  /** Compaction rounds (median reported). Default: 3. */
  compactRounds?: number;
}

/** The load of the close measurements, as a share of the staging capacity measured first. */
const LOAD_SHARE = 0.7;
const TYPES_PER_WINDOW = 3;

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const [shortS, longS] = options.windowsS ?? [10, 50];
  const [shortN, longN] = options.measuredWindows ?? [20, 20];
  const registry = await Registry.load();
  const compactRounds = options.compactRounds ?? 3;
  const compact = await compactThroughput(registry, options.compactMessages ?? 200, compactRounds);
  const stack = await startLocalStack({ registry });
  const publishers = options.publishers ?? 2;
  let short: LengthRun;
  let long: LengthRun;
  let capacityEps: number | undefined;
  let rateEps: number;
  try {
    capacityEps = options.rateEps === undefined ? await stagedCapacity({ stack, registry, publishers }, options.calibrationS ?? 30) : undefined;
    rateEps = options.rateEps ?? LOAD_SHARE * capacityEps!;
    short = await measureLength({ stack, registry, windowS: shortS, windows: shortN, rateEps, publishers });
    long = await measureLength({ stack, registry, windowS: longS, windows: longN, rateEps, publishers });
  } finally {
    killChildren();
    await stack.stop();
  }
  const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const ratio = (q: 'p50' | 'p90') => round(spread(long.delaysS)[q] / Math.max(0.001, spread(short.delaysS)[q]), 2);
  const results: BenchResult[] = [
    ...delayFigures('close_delay', short),
    ...delayFigures('close_delay_long', long),
    { name: 'close_delay_long_vs_short_p50', value: ratio('p50'), unit: `x (p50 at ${longS} s / p50 at ${shortS} s; 1 = no growth with the window)` },
    { name: 'close_delay_long_vs_short_p90', value: ratio('p90'), unit: `x (p90 at ${longS} s / p90 at ${shortS} s)` },
    ...(capacityEps !== undefined ? [{ name: 'close_capacity_eps', value: Math.round(capacityEps), unit: 'events/s the worker staged with publishers at full speed (no checker), measured first' }] : []),
    { name: 'close_load_eps', value: Math.round(short.loadEps), unit: `track_played events/s acknowledged to the publishers during the ${shortS}-s run (aimed at ${rateEps > 0 ? `${Math.round(rateEps)}${capacityEps !== undefined ? `, ${LOAD_SHARE} × capacity` : ''}` : 'full speed'}; ${longS}-s run: ${Math.round(long.loadEps)})` },
    { name: 'close_window_events', value: avg(short.trackPlayedEventsPerWindow), unit: `track_played events per measured ${shortS}-s window` },
    { name: 'close_delay_long_window_events', value: avg(long.trackPlayedEventsPerWindow), unit: `track_played events per measured ${longS}-s window` },
    { name: 'close_checker_cpu_cores', value: round(short.checkerCores, 2), unit: `cores used by the checker under load (${shortS}-s windows; ${longS}-s: ${round(long.checkerCores, 2)})` },
    { name: 'close_checker_eps_per_core', value: Math.round(short.checkerEventsPerCpuS), unit: `events closed per CPU-second of the checker process (polling, compaction, close; ${shortS}-s windows)` },
    mustBeZero('close_failed_events', short.failedEvents + long.failedEvents, 'events whose publish failed'),
    mustBeZero('close_unclosed_windows', short.unclosed + long.unclosed, 'closes of measured windows that had not happened 180 s after the last one ended'),
    ...auditFigures('close', sumAudits(short.audit, long.audit)),
    { name: 'close_compact_eps_per_core', value: Math.round(compact.fast), unit: `events/CPU-s, compactWindow fast path (blocks copied whole; median of ${compactRounds} rounds)` },
    { name: 'close_compact_slow_eps_per_core', value: Math.round(compact.slow), unit: `events/CPU-s, compactWindow slow path (v1 records decoded, resolved to v2, re-encoded; median of ${compactRounds} rounds)` },
  ];
  const notes = [short.note, long.note].filter((n): n is string => n !== undefined);
  return requireZeros(results, [...notes, ...short.audit.problems.map((p) => `${shortS}-s run: ${p}`), ...long.audit.problems.map((p) => `${longS}-s run: ${p}`)]);
}

/** The spread of one length's close delays, with how many windows and closes it rests on. */
function delayFigures(prefix: string, r: LengthRun): BenchResult[] {
  const s = spread(r.delaysS);
  const proof = spread(r.proofDelaysS);
  const fewer = r.windows < MIN_PERCENTILE_SAMPLES ? ` — only ${r.windows} windows, fewer than the ${MIN_PERCENTILE_SAMPLES} this benchmark is meant to measure (--quick?)` : '';
  const of = `${s.n} closes of ${r.windowS}-s windows`;
  return [
    { name: `${prefix}_windows`, value: r.windows, unit: `consecutive fully loaded ${r.windowS}-s windows measured, ${TYPES_PER_WINDOW} closes each (one per type)${fewer}` },
    { name: `${prefix}_min_s`, value: round(s.min, 2), unit: `s, window end to _SUCCESS, fastest of ${of}` },
    { name: `${prefix}_p50_s`, value: round(s.p50, 2), unit: `s, median of ${of}${quantileCaveat(0.5, s.n)}` },
    { name: `${prefix}_p90_s`, value: round(s.p90, 2), unit: `s, p90 of ${of}${quantileCaveat(0.9, s.n)}` },
    { name: `${prefix}_p99_s`, value: round(s.p99, 2), unit: `s, p99 of ${of}${quantileCaveat(0.99, s.n)}` },
    { name: `${prefix}_max_s`, value: round(s.max, 2), unit: `s, slowest of ${of}` },
    { name: `${prefix.replace('delay', 'proof')}_p50_s`, value: round(proof.p50, 2), unit: `s, window end until the close rule held, median of ${of} (the rest of the delay is writing)` },
    { name: `${prefix.replace('delay', 'proof')}_max_s`, value: round(proof.max, 2), unit: `s, the same, slowest` },
  ];
}

export const QUICK: BenchOptions = { windowsS: [5, 25], measuredWindows: [4, 2], calibrationS: 10, compactMessages: 100, compactRounds: 2 };

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const pair = (v: string | undefined) => (v === undefined ? undefined : (v.split(',').map(Number) as [number, number]));
  const rate = valueOf('--rate');
  const windowsS = pair(valueOf('--windows'));
  const measuredWindows = pair(valueOf('--count'));
  await runStandalone(
    () =>
      run({
        ...(args.includes('--quick') ? QUICK : {}),
        ...(rate !== undefined ? { rateEps: Number(rate) } : {}),
        ...(windowsS ? { windowsS } : {}),
        ...(measuredWindows ? { measuredWindows } : {}),
      }),
    args.includes('--json'),
  );
}
