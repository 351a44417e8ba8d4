// Benchmark: the pipeline as processes on this machine — to staging (staging_eps), all the way to _SUCCESS (e2e_closed_eps) — beside the emulator's own ceiling measured in the same run.
//
// Run: node_modules/.bin/node bench/e2e.bench.ts [--json] [--quick] [--seconds N] [--publishers N]
//      (HG_BENCH_WORKER_NODE_OPTIONS=--cpu-prof … passes node options to the staging run's worker, to profile it)
//
//   ceiling     e2e/ceiling.ts: 100 KB messages published as fast as the emulator takes them, an
//               ack-only subscriber; bytes/s as 100-byte events/s (median of one-second steps).
//   staging     e2e/staging.ts: SDK publisher processes (2) publish ~100-byte track_played events as
//               fast as their backpressure allows; a worker process stages them. staging_eps counts the
//               events in staging files made durable during the steady part of the run; afterwards every
//               acknowledged seq must be in some staging manifest (staging_lost_events).
//   e2e closed  e2e/closed.ts: the same publishers with the close benchmark's mix (track_played plus 2%
//               each of two small types), a worker and a checker process, short windows. e2e_closed_eps
//               = acknowledged events / (first publish → the last window's _SUCCESS); then every
//               acknowledged event must be in a complete closed window's part files exactly once, and
//               late/ and deadletter/ empty (the benchmark fails otherwise).
//
// Every process shares this machine's cores with the emulator, as in a real single-box run.
import { startLocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { auditFigures } from './kit/closed-audit.ts';
import { killChildren } from './kit/child-process.ts';
import { mustBeZero, requireZeros, runStandalone, type BenchResult } from './kit/results.ts';
import { round } from './kit/stats.ts';
import { CEILING_MESSAGE_BYTES, emulatorCeiling } from './e2e/ceiling.ts';
import { closedRun } from './e2e/closed.ts';
import { stagingRun } from './e2e/staging.ts';

export interface BenchOptions {
  /** Seconds of publishing in the staging run. Default: 25. */
  stagingSeconds?: number;
  /** Seconds of the ceiling run. Default: 12. */
  ceilingSeconds?: number;
  /** Seconds at the start of the ceiling and staging runs not counted (processes warming up). Default: 4. */
  warmupSeconds?: number;
  /** Seconds of publishing in the closed run, rounded up to a window's end. Default: 60. */
  closedSeconds?: number;
  /** Window length of the closed run (s). Default: 10. */
  closedWindowS?: number;
  /** SDK publisher processes (one SDK process tops out near one core). Default: 2. */
  publishers?: number;
}

const EVENT_BYTES = 100;

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const warmupS = options.warmupSeconds ?? 4;
  const publishers = options.publishers ?? 2;
  const registry = await Registry.load();
  const stack = await startLocalStack({ registry });
  try {
    const ceilingSeconds = options.ceilingSeconds ?? 12;
    const ceiling = await emulatorCeiling(stack, ceilingSeconds, warmupS);
    const ceilingEps = ceiling.perS / EVENT_BYTES;
    const staging = await stagingRun({ stack, registry, seconds: options.stagingSeconds ?? 25, warmupS, publishers });
    const closed = await closedRun({ stack, registry, seconds: options.closedSeconds ?? 60, windowS: options.closedWindowS ?? 10, publishers });
    const results: BenchResult[] = [
      { name: 'emulator_ceiling_mb_s', value: round(ceiling.perS / 1e6, 1), unit: `MB/s of ${CEILING_MESSAGE_BYTES / 1024} KB messages, ack-only subscriber (median of ${ceiling.steps} one-second steps)` },
      { name: 'emulator_ceiling_eps', value: Math.round(ceilingEps), unit: `${EVENT_BYTES}-byte-event equivalents/s` },
      { name: 'staging_eps', value: Math.round(staging.stagedEps), unit: `events/s made durable in staging by the worker, ${publishers} SDK processes at full speed (steady part of the run; not yet proven or readable)` },
      { name: 'staging_published_eps', value: Math.round(staging.publishedEps), unit: 'events/s acknowledged to the SDK publishers (whole run)' },
      { name: 'staging_vs_ceiling', value: round(staging.stagedEps / ceilingEps, 2), unit: 'x (staging_eps / emulator_ceiling_eps)' },
      mustBeZero('staging_failed_events', staging.failedEvents, 'events whose publish failed'),
      mustBeZero('staging_lost_events', staging.lostEvents, 'acknowledged events in no staging manifest after a 120-s drain'),
      { name: 'staging_duplicate_events', value: staging.duplicateEvents, unit: 'events staged twice (redeliveries: allowed in staging, dropped at close)' },
      { name: 'staging_cpu_share_publishers', value: round(staging.cores.publishers, 2), unit: `cores used by the ${publishers} SDK publisher process(es)` },
      { name: 'staging_cpu_share_emulator', value: round(staging.cores.emulator, 2), unit: 'cores used by the emulator' },
      { name: 'staging_cpu_share_worker', value: round(staging.cores.worker, 2), unit: 'cores used by the worker process' },
      { name: 'worker_eps_per_core', value: Math.round(staging.workerEventsPerCpuS), unit: 'events per CPU-second of the worker process (gRPC, acks and writes included)' },
      { name: 'worker_rss_mb', value: Math.round(staging.workerPeakRssBytes / (1024 * 1024)), unit: 'MB peak resident memory of the worker process' },
      {
        name: 'e2e_closed_eps',
        value: Math.round(closed.closedEps),
        unit: `events/s: ${closed.acknowledgedEvents} acknowledged events / (first publish → last window's _SUCCESS), ${publishers} SDK processes at full speed, ${closed.windowS}-s windows, every event verified once in a closed window`,
      },
      { name: 'e2e_closed_vs_staging', value: round(closed.closedEps / staging.stagedEps, 2), unit: 'x (e2e_closed_eps / staging_eps)' },
      { name: 'e2e_closed_published_eps', value: Math.round(closed.publishedEps), unit: `events/s acknowledged to the publishers over the ${round(closed.publishS, 1)} s of publishing` },
      { name: 'e2e_closed_tail_s', value: round(closed.tailS, 2), unit: 's from the end of publishing (a window end) to the last _SUCCESS: backlog drained, then one close' },
      { name: 'e2e_closed_windows', value: closed.windows, unit: `${closed.windowS}-s windows closed per type (3 types)` },
      { name: 'e2e_closed_cpu_share_checker', value: round(closed.checkerCores, 2), unit: 'cores used by the checker process (first publish → last _SUCCESS)' },
      mustBeZero('e2e_closed_failed_events', closed.failedEvents, 'events whose publish failed'),
      ...auditFigures('e2e_closed', closed.audit),
    ];
    return requireZeros(results, [...(closed.note ? [closed.note] : []), ...staging.lostExamples.map((e) => `staging: ${e}`), ...closed.audit.problems]);
  } finally {
    // Whatever is still running (after a failure) goes first, then the emulator.
    killChildren();
    await stack.stop();
  }
}

export const QUICK: BenchOptions = { stagingSeconds: 12, ceilingSeconds: 8, warmupSeconds: 3, closedSeconds: 15, closedWindowS: 5 };

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : undefined);
  const stagingSeconds = valueOf('--seconds');
  const publishers = valueOf('--publishers');
  await runStandalone(() => run({ ...(args.includes('--quick') ? QUICK : {}), ...(stagingSeconds ? { stagingSeconds } : {}), ...(publishers ? { publishers } : {}) }), args.includes('--json'));
}
