// Benchmark: Iceberg tables of closed windows — window end → table snapshot under sustained end-to-end load, the Avro close delay with and without the table committer, and the committer's Avro → Parquet conversion per core.
//
// Run: node_modules/.bin/node bench/table.bench.ts [--json] [--quick] [--rate N] [--window S] [--count N]
//
//   table_lag_*          table/loaded-run.ts: the pipeline as processes on this machine, default settings: SDK
//                        publisher processes (2) → Pub/Sub emulator → worker process → local directory ← checker
//                        process, which announces each closed window on the closed-windows topic → table committer
//                        process (node services/table/main.ts) → Apache Iceberg's own REST catalog (a local JVM,
//                        test/table/table-kit.ts), where track_played opts in ("table": true). A steady load well
//                        below capacity (default 300 track_played events/s, plus 2% each of ui_interaction and
//                        search_performed, as the close benchmark) over `count` consecutive fully loaded windows
//                        (default 20 of 10 s). The lag of a window is from its end to its snapshot's timestamp-ms
//                        in the catalog (the committer stamps it as it sends the commit); the part after the
//                        window's _SUCCESS is the committer's own (announce, read, convert, write, commit).
//   table_close_delay_*  the same run once without the committer first (the baseline: same settings, same length,
//                        the catalog idle), then with it: window end → _SUCCESS of every close of the measured
//                        windows (three types), p50 and p99 of each, and with / without as ratios (1 = the
//                        committer does not slow the Avro close).
//   parquet_*            table/parquet-convert.ts: the committer's conversion alone (ContainerReader, RecordDecoder,
//                        HourParquetWriter, as hour-commit.ts) over a 200,000-record track_played part; events
//                        per CPU-second of this process, and the Parquet file's size against the Avro part's.
//
// It fails (BenchFailure) unless: every closed window of track_played in the committer run is exactly one
// snapshot (none missing, none twice, none for another window), each snapshot's added-records and
// hourglass.records equal its manifest's events, pyiceberg reads every acknowledged track_played event
// exactly once from the table (per publisher and seq) and each window's rows equal its manifest's count;
// the committer logged no refused window; in both runs every acknowledged event is once in a complete
// closed window (the close benchmark's audit) and no publish failed; the Parquet file holds every record
// (pyarrow). --quick: 5-s windows, 6 of them (fewer than 20: the units say so), a 100,000-record part.
import { randomBytes } from 'node:crypto';
import { startLocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { startTableKit } from '../test/table/table-kit.ts';
import { auditFigures, sumAudits } from './kit/closed-audit.ts';
import { killChildren } from './kit/child-process.ts';
import { mustBeZero, requireZeros, runStandalone, type BenchResult } from './kit/results.ts';
import { MIN_PERCENTILE_SAMPLES, quantileCaveat, round, spread } from './kit/stats.ts';
import { COMMIT_TIMEOUT_MS, MEASURE_TIMEOUT_MS, measureLoadedRun, TABLE_TYPE, type LoadedRun } from './table/loaded-run.ts';
import { parquetThroughput } from './table/parquet-convert.ts';

export interface BenchOptions {
  /** Window length (s); divides 3600, as tables require. Default: 10. */
  windowS?: number;
  /** Consecutive fully loaded windows measured in each run. Default: 20. */
  measuredWindows?: number;
  /** Total track_played events/s the publishers aim at. Default: 300. */
  rateEps?: number;
  /** SDK publisher processes. Default: 2. */
  publishers?: number;
  /** Records of the synthetic part the conversion is measured on (a multiple of 1000). Default: 200,000. */
  parquetRecords?: number;
  /** Measured conversion rounds (median reported). Default: 3. */
  parquetRounds?: number;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const windowS = options.windowS ?? 10;
  const windows = options.measuredWindows ?? 20;
  const rateEps = options.rateEps ?? 300;
  const publishers = options.publishers ?? 2;
  const parquetRounds = options.parquetRounds ?? 3;
  const defaultRegistry = await Registry.load();
  // CPU-only, first, while no emulator competes for the cores.
  const parquet = await parquetThroughput(defaultRegistry, options.parquetRecords ?? 200_000, parquetRounds);
  const stack = await startLocalStack({ registry: defaultRegistry });
  let tables: Awaited<ReturnType<typeof startTableKit>> | undefined;
  let baseline: LoadedRun;
  let withTable: LoadedRun;
  try {
    tables = await startTableKit();
    const registry = await Registry.load(tables.schemasDir);
    if (!registry.require(TABLE_TYPE).config.table) throw new Error(`${TABLE_TYPE} does not opt in to a table in ${tables.schemasDir}`);
    const params = { stack, registry, schemasDir: tables.schemasDir, windowS, windows, rateEps, publishers, catalog: { uri: tables.catalog.uri, pid: tables.catalog.pid } };
    baseline = await measureLoadedRun(params);
    withTable = await measureLoadedRun({ ...params, namespace: `bench_${randomBytes(3).toString('hex')}` });
  } finally {
    killChildren();
    await tables?.stop();
    await stack.stop();
  }
  const c = withTable.committer!;
  const lag = spread(c.lagsS);
  const afterClose = spread(c.afterCloseS);
  const closeWith = spread(withTable.closeDelaysS);
  const closeWithout = spread(baseline.closeDelaysS);
  const fewer = (n: number) => (n < MIN_PERCENTILE_SAMPLES ? ` — only ${n}, fewer than the ${MIN_PERCENTILE_SAMPLES} this benchmark is meant to measure (--quick?)` : '');
  const lagOf = `${lag.n} ${windowS}-s windows of ${TABLE_TYPE}`;
  const closesOf = (s: { n: number }) => `${s.n} closes of ${windowS}-s windows (3 types)`;
  const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const t = c.audit;
  const results: BenchResult[] = [
    { name: 'table_lag_windows', value: lag.n, unit: `consecutive fully loaded ${windowS}-s windows whose snapshot was measured, one snapshot each${fewer(lag.n)}` },
    { name: 'table_lag_min_s', value: round(lag.min, 2), unit: `s, window end to the snapshot's timestamp-ms in the catalog, fastest of ${lagOf}` },
    { name: 'table_lag_p50_s', value: round(lag.p50, 2), unit: `s, window end to snapshot, median of ${lagOf}${quantileCaveat(0.5, lag.n)}` },
    { name: 'table_lag_p90_s', value: round(lag.p90, 2), unit: `s, window end to snapshot, p90 of ${lagOf}${quantileCaveat(0.9, lag.n)}` },
    { name: 'table_lag_p99_s', value: round(lag.p99, 2), unit: `s, window end to snapshot, p99 of ${lagOf}${quantileCaveat(0.99, lag.n)}` },
    { name: 'table_lag_max_s', value: round(lag.max, 2), unit: `s, window end to snapshot, slowest of ${lagOf}` },
    { name: 'table_lag_after_close_p50_s', value: round(afterClose.p50, 2), unit: `s, the window's _SUCCESS to its snapshot (announce, read, convert, write, commit), median of ${lagOf} (the rest of the lag is the Avro close)` },
    { name: 'table_lag_after_close_max_s', value: round(afterClose.max, 2), unit: `s, the same, slowest` },
    { name: 'table_close_delay_p50_s', value: round(closeWith.p50, 2), unit: `s, window end to _SUCCESS with the table committer running, median of ${closesOf(closeWith)}${quantileCaveat(0.5, closeWith.n)}` },
    { name: 'table_close_delay_p99_s', value: round(closeWith.p99, 2), unit: `s, the same, p99${quantileCaveat(0.99, closeWith.n)}` },
    { name: 'table_close_delay_baseline_p50_s', value: round(closeWithout.p50, 2), unit: `s, window end to _SUCCESS without the committer (run first, same settings and length), median of ${closesOf(closeWithout)}${quantileCaveat(0.5, closeWithout.n)}` },
    { name: 'table_close_delay_baseline_p99_s', value: round(closeWithout.p99, 2), unit: `s, the same, p99${quantileCaveat(0.99, closeWithout.n)}` },
    { name: 'table_close_delay_p50_ratio', value: round(closeWith.p50 / Math.max(0.001, closeWithout.p50), 2), unit: 'x (close delay p50 with the committer / without; 1 = the committer does not slow the Avro close)' },
    { name: 'table_close_delay_p99_ratio', value: round(closeWith.p99 / Math.max(0.001, closeWithout.p99), 2), unit: `x (close delay p99 with the committer / without${closeWith.n < 100 ? `; of ${closeWith.n} and ${closeWithout.n} closes each p99 is the slowest, so this compares two maxima` : ''})` },
    { name: 'table_load_eps', value: Math.round(withTable.loadEps), unit: `${TABLE_TYPE} events/s acknowledged to the publishers during the committer run (aimed at ${Math.round(rateEps)}; baseline run: ${Math.round(baseline.loadEps)})` },
    { name: 'table_window_events', value: avg(withTable.trackPlayedEventsPerWindow), unit: `${TABLE_TYPE} events per measured ${windowS}-s window (one snapshot each)` },
    { name: 'table_committer_cpu_cores', value: round(c.cores, 3), unit: `cores used by the table committer process under load (the local REST catalog's JVM: ${round(withTable.catalogCores, 3)}, idle in the baseline: ${round(baseline.catalogCores, 3)})` },
    { name: 'table_committer_eps_per_core', value: Math.round(c.eventsPerCpuS), unit: 'events committed per CPU-second of the committer process over the run (Pub/Sub, catalog requests, reading, converting, writing; small windows, so per-window costs weigh)' },
    { name: 'table_commit_errors', value: c.failures.length, unit: `failed commit attempts the committer logged (retried in place; every window still committed once, as the figures below check)${c.failures.length > 0 ? `: ${c.failures.slice(0, 3).join('; ')}` : ''}` },
    mustBeZero('table_refused_windows', c.refused.length, 'windows the committer refused to tables/refused/'),
    mustBeZero('table_committer_crashes', c.exitedEarly === undefined ? 0 : 1, `table committer processes that exited before the run stopped them${c.exitedEarly === undefined ? '' : ` (exit code ${c.exitedEarly})`}`),
    mustBeZero('table_uncommitted_windows', t.uncommitted, `closed windows of ${TABLE_TYPE} without a snapshot once the checker had stopped and the committer had ${COMMIT_TIMEOUT_MS / 1000} s more (of ${t.windows}, the partial ones around the measured windows included)`),
    mustBeZero('table_late_commits', c.lateCommits, `measured windows not committed ${MEASURE_TIMEOUT_MS / 1000} s after the last one ended (while the load ran)`),
    mustBeZero('table_duplicate_snapshots', t.duplicateSnapshots, 'extra snapshots of a window committed more than once'),
    mustBeZero('table_unexpected_snapshots', t.unexpectedSnapshots, 'snapshots naming no closed window of the run'),
    mustBeZero('table_miscounted_windows', t.miscountedWindows, "windows whose snapshot's added-records or hourglass.records, or whose rows in the table (pyiceberg, by receive time), differ from the manifest's events"),
    mustBeZero('table_missing_rows', t.missing, `acknowledged ${TABLE_TYPE} events that pyiceberg does not read from the table (per publisher and seq; ${t.rows} rows read)`),
    mustBeZero('table_duplicate_rows', t.duplicates, 'extra copies of acknowledged events among the table rows'),
    mustBeZero('table_unexpected_rows', t.unexpected, 'table rows that no publisher acknowledged'),
    mustBeZero('table_failed_events', withTable.failedEvents + baseline.failedEvents, 'events whose publish failed (both runs)'),
    mustBeZero('table_unclosed_windows', withTable.unclosed + baseline.unclosed, `closes of measured windows that had not happened ${MEASURE_TIMEOUT_MS / 1000} s after the last one ended (both runs)`),
    ...auditFigures('table_avro', sumAudits(baseline.audit, withTable.audit)),
    { name: 'parquet_eps_per_core', value: Math.round(parquet.eventsPerCpuS), unit: `events/CPU-s of read + Avro decode (avsc) + conversion to Parquet (HourParquetWriter, snappy) of a ${parquet.records.toLocaleString('en-US')}-record ${TABLE_TYPE} part (deflate), as the committer converts each closed part; median of ${parquetRounds} rounds, pyarrow reads every row back` },
    { name: 'parquet_decode_eps_per_core', value: Math.round(parquet.decodeEventsPerCpuS), unit: 'events/CPU-s of the read + Avro decode alone (the rest of parquet_eps_per_core is the conversion)' },
    { name: 'parquet_size_vs_avro', value: round(parquet.parquetBytes / parquet.avroBytes, 3), unit: `x (Parquet file bytes / Avro part bytes, same records: ${parquet.parquetBytes.toLocaleString('en-US')} / ${parquet.avroBytes.toLocaleString('en-US')})` },
  ];
  const notes = [baseline.note, withTable.note, c.note, ...(c.exitedEarly !== undefined ? [`the table committer exited with code ${c.exitedEarly} during the run`] : [])].filter((n): n is string => n !== undefined);
  return requireZeros(results, [...notes, ...t.problems.map((p) => `table: ${p}`), ...c.refused.map((r) => `refused: ${r}`), ...baseline.audit.problems.map((p) => `baseline run: ${p}`), ...withTable.audit.problems.map((p) => `committer run: ${p}`)]);
}

export const QUICK: BenchOptions = { windowS: 5, measuredWindows: 6, parquetRecords: 100_000, parquetRounds: 2 };

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const rate = valueOf('--rate');
  const window = valueOf('--window');
  const count = valueOf('--count');
  await runStandalone(
    () =>
      run({
        ...(args.includes('--quick') ? QUICK : {}),
        ...(rate !== undefined ? { rateEps: Number(rate) } : {}),
        ...(window !== undefined ? { windowS: Number(window) } : {}),
        ...(count !== undefined ? { measuredWindows: Number(count) } : {}),
      }),
    args.includes('--json'),
  );
}
