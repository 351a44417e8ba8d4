// Benchmark: the real pipeline as processes at scale (issue #13) — 500 event types, 1,000 SDK publishers, 1 and 3 checker replicas; close delay over every (type, window), checker CPU and bucket requests per round.
//
// Run: node_modules/.bin/node bench/scale.bench.ts [--json] [--quick] [--types N] [--publishers N] [--replicas 1,3]
//      [--windows N] [--window-s S] [--publisher-eps R] [--heartbeat-ms MS] [--notices]
//
//   A registry of N synthetic types (copies of search_performed, its type.json as it is) is generated
//   (scale/synthetic-registry.ts); for each setting its topics and subscriptions are provisioned on the
//   Pub/Sub emulator in parallel chunks (the time is printed), then the worker process(es), R checker
//   processes (replicas sharing the types, each its own HOURGLASS_CHECKER_ID and ops server; with --notices, as Terraform
//   deploys them, one staged-notice slot per replica: HOURGLASS_CHECKER_NOTICE_SLOTS = R) and the
//   publisher fleets start: P SDK Publisher identities spread over a few processes sharing one Pub/Sub
//   client per process (scale/publisher-fleet.ts), each publishing `typesPerPublisher` types at a modest
//   rate and sending heartbeats as the SDK does. After a warm-up, `windows` consecutive windows are
//   measured; the load goes on for one more window, then stops.
//   Measured per setting (scale/setting-run.ts):
//     - close delay: closeDelayMs of the _MANIFEST.json of every (type, measured window): N × windows samples;
//     - checker CPU per round, per replica: utime+stime (/proc) over hourglass_checker_round_duration_…_count
//       (its /metrics), across the measured span; the mean over the replicas;
//     - bucket requests per round per replica by kind, from hourglass_checker_storage_requests_total{kind}
//       when the checker exports it (scale_checker_storage_metric = 0 says it does not);
//     - cores used by role over the measured span (emulator, workers, checkers, publishers, this process):
//       on a 2-core machine they say what saturates.
//   Then the audit, which fails the benchmark: every acknowledged event once in a complete closed window or
//   in late/ (read from the part files, per publisher and seq), no duplicates, every window that ended
//   before the stop closed for every type, nothing in the dead letters, no failed publish.
//   --quick: 50 types, 100 publishers, 6 windows of 5 s per setting (fewer than 20: the units say so).
import { startLocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { killChildren } from './kit/child-process.ts';
import { runStandalone, type BenchResult } from './kit/results.ts';
import { scaleFigures } from './scale/figures.ts';
import { runSetting, type SettingRun } from './scale/setting-run.ts';
import { syntheticRegistry } from './scale/synthetic-registry.ts';

export interface BenchOptions {
  /** Event types. Default: 500. */
  types?: number;
  /** SDK publisher identities. Default: 1000. */
  publishers?: number;
  /** Processes the publishers are spread over. Default: 4. */
  fleetProcesses?: number;
  /** Types each publisher publishes. Default: 3. */
  typesPerPublisher?: number;
  /** Events/s of each publisher. Default: 0.1 (100 events/s in all: at 1 event/s the emulator, at one core, fails most publishes here). */
  publisherEps?: number;
  /** The publishers' periodic heartbeat (ms). Default: the SDK's. */
  heartbeatIntervalMs?: number;
  /** Staged notices, one slot per checker replica, as Terraform deploys them. Default: off, as outside Terraform. */
  notices?: boolean;
  /** Checker replicas of each setting, in order. Default: [1, 3]. */
  replicas?: number[];
  /** Worker processes (each pulls its share of the types). Default: 1. */
  workers?: number;
  /** Window length (s). Default: 20 (500 types close 25 windows a second; production's hours close 500 an hour). */
  windowS?: number;
  /** Windows measured per setting. Default: 20. */
  windows?: number;
  /** Chunks the topics are provisioned in, at once. Default: 8. */
  provisionChunks?: number;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const o = {
    types: options.types ?? 500,
    publishers: options.publishers ?? 1000,
    fleetProcesses: options.fleetProcesses ?? 4,
    typesPerPublisher: options.typesPerPublisher ?? 3,
    publisherEps: options.publisherEps ?? 0.1,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    replicas: options.replicas ?? [1, 3],
    workers: options.workers ?? 1,
    windowS: options.windowS ?? 20,
    windows: options.windows ?? 20,
    notices: options.notices ?? false,
  };
  const registry = await syntheticRegistry(o.types, options.provisionChunks ?? 8);
  // The stack's own topics are for the shipped types (three); each setting provisions the synthetic ones under its own prefix.
  const stack = await startLocalStack({ registry: await Registry.load() }).catch(async (err: unknown) => {
    await registry.remove();
    throw err;
  });
  const runs: SettingRun[] = [];
  try {
    for (const replicas of o.replicas) {
      runs.push(await runSetting({ stack, registry, replicas, windowS: o.windowS, windows: o.windows, workers: o.workers, publishers: o.publishers, fleetProcesses: o.fleetProcesses, typesPerPublisher: o.typesPerPublisher, publisherEps: o.publisherEps, heartbeatIntervalMs: o.heartbeatIntervalMs, notices: o.notices }));
    }
  } finally {
    killChildren();
    await stack.stop();
    await registry.remove();
  }
  return scaleFigures(runs, o);
}

export const QUICK: BenchOptions = { types: 50, publishers: 100, fleetProcesses: 2, windowS: 5, windows: 6 };

if (import.meta.main) {
  const args = process.argv.slice(2);
  const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const num = (flag: string) => (valueOf(flag) === undefined ? undefined : Number(valueOf(flag)));
  const over: BenchOptions = {};
  if (num('--types') !== undefined) over.types = num('--types');
  if (num('--publishers') !== undefined) over.publishers = num('--publishers');
  if (num('--windows') !== undefined) over.windows = num('--windows');
  if (num('--publisher-eps') !== undefined) over.publisherEps = num('--publisher-eps');
  if (num('--window-s') !== undefined) over.windowS = num('--window-s');
  if (num('--heartbeat-ms') !== undefined) over.heartbeatIntervalMs = num('--heartbeat-ms');
  if (args.includes('--notices')) over.notices = true;
  if (valueOf('--replicas') !== undefined) over.replicas = valueOf('--replicas')!.split(',').map(Number);
  await runStandalone(() => run({ ...(args.includes('--quick') ? QUICK : {}), ...over }), args.includes('--json'));
}
