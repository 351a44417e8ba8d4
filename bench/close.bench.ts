// Benchmark: close delay (window end → _SUCCESS) under sustained end-to-end load, at two window lengths; and close throughput per core.
//
// Run: node_modules/.bin/node bench/close.bench.ts [--json] [--quick] [--rate N] [--windows 60,300]
//
//   close_delay_*      the whole pipeline as processes on this machine, with default settings: SDK
//                      publisher processes (2) → Pub/Sub emulator → worker process → local directory ←
//                      checker process. The load is the e2e benchmark's mix: track_played events plus
//                      2% each of ui_interaction and search_performed, so three types close per window.
//                      Its rate is 0.7 × the staging capacity measured first (close_capacity_eps:
//                      publishers at full speed for 30 s), or --rate events/s in total (0 = full speed).
//                      A load above capacity grows the Pub/Sub backlog for as long as it runs, and every
//                      delay with it, so at full speed a longer window measures a longer backlog. The
//                      delay of every window that had load for most of its length is from its end to
//                      its _SUCCESS (the file's modification time); the manifest's proofDelayMs says
//                      how much of it was waiting for the close rule to hold. Default: 60-second
//                      windows (2 measured), then 300-second windows (1 measured, loaded for at least
//                      120 s, i.e. twice a 60-second window's events): the p99 should not grow with
//                      the window. --quick uses 12 s and 60 s windows.
//   close_compact_*    compactWindow alone on synthetic staged files (written by a real Worker from
//                      SDK-encoded messages of 1000 events): events per CPU-second, on the fast path
//                      (blocks copied whole) and the slow path (every record decoded and re-encoded, as
//                      for an older schema version).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClosedManifest } from '../services/checker/closed-manifest.ts';
import { StagingIndex } from '../services/checker/staging-index.ts';
import { compactWindow } from '../services/checker/window-compactor.ts';
import { emulatorClient, startLocalStack } from '../services/local-stack/local-stack.ts';
import { provisionTopics, removeTopics } from '../services/local-stack/provision.ts';
import { Registry } from '../services/registry/registry.ts';
import { Publisher } from '../services/sdk/index.ts';
import { layout } from '../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../services/storage/local-directory.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX } from '../services/storage/staging-manifest.ts';
import { topicNames } from '../services/wire/topics.ts';
import { windowEndUs, windowOf, windowStartUs } from '../services/wire/window.ts';
import { resolveWorkerOptions } from '../services/worker/worker-options.ts';
import { Worker } from '../services/worker/worker.ts';
import { SAMPLE_EVENTS, trackPlayed } from '../test/helpers/sample-events.ts';
import { BASE_RECEIVE_US, buildBatch, FakeSource, fakeInbound } from '../test/fixtures/worker-messages.ts';
import { cpuSeconds, REPO_ROOT, spawnChild, type Child } from './kit/child-process.ts';
import { round } from './kit/stats.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

export interface BenchOptions {
  /** Window lengths (s) to compare; the first is the headline. Default: [60, 300]. */
  windowsS?: [number, number];
  /** Windows to measure at each length. Default: [2, 1]. */
  measuredWindows?: [number, number];
  /** Seconds of load a measured window needs, at each length. Default: 0.75 × the first length, and 2 × the first length. */
  minLoadS?: [number, number];
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

const SELF = fileURLToPath(import.meta.url);
const TYPES = ['track_played', 'ui_interaction', 'search_performed'] as const;
/** The load of the close measurements, as a share of the staging capacity measured first. */
const LOAD_SHARE = 0.7;
/** Share of the events of each of the two small types. */
const SMALL_TYPE_SHARE = 0.02;

interface LengthRun {
  readonly windowS: number;
  readonly delaysS: number[];
  /** Of each delay, the part until the close rule held (the rest is writing). */
  readonly proofDelaysS: number[];
  readonly trackPlayedEventsPerWindow: number[];
  readonly loadEps: number;
  readonly checkerCores: number;
  readonly checkerEventsPerCpuS: number;
  readonly lost: number;
  readonly incomplete: number;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const [shortS, longS] = options.windowsS ?? [60, 300];
  const [shortN, longN] = options.measuredWindows ?? [2, 1];
  const [shortLoad, longLoad] = options.minLoadS ?? [0.75 * shortS, 2 * shortS];
  const registry = await Registry.load();
  const compact = await compactThroughput(registry, options.compactMessages ?? 200, options.compactRounds ?? 3);
  const stack = await startLocalStack({ registry });
  let short: LengthRun;
  let long: LengthRun;
  let capacityEps: number | undefined;
  let rateEps: number;
  try {
    const publishers = options.publishers ?? 2;
    // A load above what the pipeline sustains grows a backlog without bound, and every delay with it
    // (the longer the run, the longer the delay): measure at a share of the measured capacity instead.
    capacityEps = options.rateEps === undefined ? await stagedCapacity({ stack, registry, publishers }, options.calibrationS ?? 30) : undefined;
    rateEps = options.rateEps ?? LOAD_SHARE * capacityEps!;
    const common = { stack, registry, rateEps, publishers, withChecker: true };
    short = await measureLength({ ...common, windowS: shortS, measured: shortN, minLoadS: shortLoad });
    long = await measureLength({ ...common, windowS: longS, measured: longN, minLoadS: longLoad });
  } finally {
    await stack.stop();
  }
  const p = (r: LengthRun, q: number) => round(quantile(r.delaysS, q), 2);
  const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  return [
    { name: 'close_delay_p50_s', value: p(short, 0.5), unit: `s, window end to _SUCCESS, ${shortS}-s windows (${short.delaysS.length} closes: ${shortN} windows × 3 types)` },
    { name: 'close_delay_p99_s', value: p(short, 0.99), unit: `s, same closes` },
    { name: 'close_delay_max_s', value: round(Math.max(...short.delaysS), 2), unit: 's, same closes' },
    { name: 'close_proof_p99_s', value: round(quantile(short.proofDelaysS, 0.99), 2), unit: 's, window end until the close rule held (the rest of the delay is writing)' },
    ...(capacityEps !== undefined ? [{ name: 'close_capacity_eps', value: Math.round(capacityEps), unit: 'events/s the worker staged with publishers at full speed (no checker), measured first' }] : []),
    { name: 'close_load_eps', value: Math.round(short.loadEps), unit: `events/s acknowledged to the publishers during the ${shortS}-s run (aimed at ${rateEps > 0 ? `${Math.round(rateEps)}${capacityEps !== undefined ? `, ${LOAD_SHARE} × capacity` : ''}` : 'full speed'})` },
    { name: 'close_window_events', value: avg(short.trackPlayedEventsPerWindow), unit: `track_played events per measured ${shortS}-s window` },
    { name: 'close_delay_long_p50_s', value: p(long, 0.5), unit: `s, ${longS}-s windows (${long.delaysS.length} closes)` },
    { name: 'close_delay_long_p99_s', value: p(long, 0.99), unit: `s, ${longS}-s windows` },
    { name: 'close_proof_long_p99_s', value: round(quantile(long.proofDelaysS, 0.99), 2), unit: `s, ${longS}-s windows: window end until the close rule held` },
    { name: 'close_delay_long_window_events', value: avg(long.trackPlayedEventsPerWindow), unit: `track_played events per measured ${longS}-s window` },
    { name: 'close_delay_long_vs_short_p99', value: round(quantile(long.delaysS, 0.99) / Math.max(0.001, quantile(short.delaysS, 0.99)), 2), unit: `x (p99 at ${longS} s / p99 at ${shortS} s; 1 = no growth)` },
    { name: 'close_checker_cpu_cores', value: round(short.checkerCores, 2), unit: `cores used by the checker under load (${shortS}-s windows)` },
    { name: 'close_checker_eps_per_core', value: Math.round(short.checkerEventsPerCpuS), unit: 'events closed per CPU-second of the checker process (polling, compaction, close)' },
    { name: 'close_lost_events', value: short.lost + long.lost, unit: 'events in closed manifests as lost (must be 0)' },
    { name: 'close_incomplete_windows', value: short.incomplete + long.incomplete, unit: 'measured windows closed incomplete (must be 0)' },
    { name: 'close_compact_eps_per_core', value: Math.round(compact.fast), unit: 'events/CPU-s, compactWindow fast path (blocks copied whole)' },
    { name: 'close_compact_slow_eps_per_core', value: Math.round(compact.slow), unit: 'events/CPU-s, compactWindow slow path (v1 records decoded, resolved to v2, re-encoded)' },
  ];
}

interface PhaseParams {
  readonly stack: Awaited<ReturnType<typeof startLocalStack>>;
  readonly registry: Registry;
  readonly windowS: number;
  /** Total events/s the publishers aim at; 0 = as fast as backpressure allows. */
  readonly rateEps: number;
  readonly publishers: number;
  readonly withChecker: boolean;
}

/** One run of the pipeline as processes on its own topics and bucket folder; close() removes all of it (and the emulator's backlog). */
interface Phase {
  readonly dir: string;
  readonly checker: Child | undefined;
  readonly publishers: Child[];
  readonly startedMs: number;
  close(): Promise<void>;
}

async function openPhase(o: PhaseParams): Promise<Phase> {
  const prefix = `hgclose${randomBytes(3).toString('hex')}-`;
  const names = topicNames(prefix);
  await provisionTopics(o.stack.client, o.registry, names);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-close-'));
  const env = {
    PUBSUB_EMULATOR_HOST: o.stack.pubsub.host,
    HOURGLASS_PROJECT: o.stack.pubsub.projectId,
    HOURGLASS_BUCKET: `file://${dir}`,
    HOURGLASS_WINDOW_S: String(o.windowS),
    HOURGLASS_TOPIC_PREFIX: prefix,
  };
  const procs: Child[] = [];
  const close = async () => {
    for (const p of procs.reverse()) await p.stop();
    await removeTopics(o.stack.client, o.registry, names);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const worker = spawnChild([path.join(REPO_ROOT, 'services/worker/main.ts')], env);
    procs.push(worker);
    await worker.line((l) => l.event === 'worker_started');
    let checker: Child | undefined;
    if (o.withChecker) {
      checker = spawnChild([path.join(REPO_ROOT, 'services/checker/main.ts')], env);
      procs.push(checker);
      await checker.line((l) => l.msg === 'checker started' || l.event === 'checker_started');
    }
    const startedMs = Date.now();
    const perPublisher = o.rateEps > 0 ? o.rateEps / o.publishers : 0;
    const publishers = Array.from({ length: o.publishers }, () => spawnChild([SELF, '--role', 'publisher', String(o.windowS), prefix, String(perPublisher)], env));
    procs.push(...publishers);
    await Promise.all(publishers.map((p) => p.line((l) => l.ready === true)));
    return { dir, checker, publishers, startedMs, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The staging throughput the pipeline sustains on this machine: publishers as fast as backpressure
 * allows for `seconds`, and the events the worker staged over the second half of it, per second.
 * (No checker, and hour-long windows, so nothing moves staged files while they are counted.)
 */
async function stagedCapacity(o: Omit<PhaseParams, 'windowS' | 'rateEps' | 'withChecker'>, seconds: number): Promise<number> {
  const phase = await openPhase({ ...o, windowS: 3600, rateEps: 0, withChecker: false });
  try {
    const fromUs = (Date.now() + (seconds / 2) * 1000) * 1000;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const toUs = Date.now() * 1000;
    const storage = await LocalDirectoryStorage.open(phase.dir);
    let events = 0;
    for (const obj of await storage.list(layout.stagingRoot)) {
      if (!obj.key.endsWith(STAGING_MANIFEST_SUFFIX)) continue;
      const m = parseStagingManifest(obj.key, await storage.get(obj.key));
      if (m.writtenAtUs >= fromUs && m.writtenAtUs < toUs) events += m.events;
    }
    return events / ((toUs - fromUs) / 1e6);
  } finally {
    await phase.close();
  }
}

async function measureLength(o: PhaseParams & { measured: number; minLoadS: number }): Promise<LengthRun> {
  const phase = await openPhase(o);
  try {
    const { dir, checker, publishers, startedMs } = phase;
    const checkerCpu0 = await cpuSeconds(checker!.pid);
    const loadFromMs = Date.now() + 2000; // the first seconds warm the processes up
    // Measured windows: the first `measured` ones with at least minLoadS of load.
    const windows: number[] = [];
    for (let w = windowOf(loadFromMs * 1000, o.windowS); windows.length < o.measured; w++) {
      const loadedS = (windowEndUs(w, o.windowS) / 1000 - Math.max(loadFromMs, windowStartUs(w, o.windowS) / 1000)) / 1000;
      if (loadedS >= o.minLoadS) windows.push(w);
    }
    const lastEndMs = windowEndUs(windows.at(-1)!, o.windowS) / 1000;
    process.stderr.write(`close bench: ${o.windowS}-s windows at ${o.rateEps > 0 ? `${Math.round(o.rateEps)} events/s` : 'full speed'}, measuring ${windows.map((w) => new Date(windowStartUs(w, o.windowS) / 1000).toISOString()).join(', ')}; load until about ${new Date(lastEndMs).toISOString()}\n`);
    // Load keeps running until every measured window has closed (bounded).
    const deadline = lastEndMs + 180_000;
    const manifests = new Map<string, ClosedManifest>();
    const successDelaysS = new Map<string, number>();
    while (Date.now() < deadline && manifests.size < windows.length * TYPES.length) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const w of windows) {
        for (const type of TYPES) {
          const key = `${type}/${w}`;
          if (manifests.has(key)) continue;
          const closedDir = path.join(dir, layout.closed({ type, index: w, lengthS: o.windowS }));
          // Closed means _SUCCESS written: its modification time is when the hour became readable.
          const success = await stat(path.join(closedDir, layout.successName)).catch(() => undefined);
          if (!success) continue;
          const manifest = JSON.parse((await readFile(path.join(closedDir, layout.manifestName))).toString('utf8')) as ClosedManifest;
          manifests.set(key, manifest);
          successDelaysS.set(key, (success.mtimeMs - windowEndUs(w, o.windowS) / 1000) / 1000);
        }
      }
    }
    const loadEndMs = Date.now();
    const checkerCpu = (await cpuSeconds(checker!.pid)) - checkerCpu0;
    const acked = (await Promise.all(publishers.map(async (p) => (await p.stop(), p.last().acked as number)))).reduce((a, b) => a + b, 0);
    if (manifests.size < windows.length * TYPES.length) throw new Error(`only ${manifests.size} of ${windows.length * TYPES.length} measured closes happened within 180 s of the last window's end`);
    const closedEvents = await closedEventCount(dir);
    const all = [...manifests.values()];
    return {
      windowS: o.windowS,
      delaysS: [...successDelaysS.values()],
      proofDelaysS: all.map((m) => (m.proofDelayMs ?? m.closeDelayMs) / 1000),
      trackPlayedEventsPerWindow: all.filter((m) => m.type === 'track_played').map((m) => m.events),
      loadEps: acked / ((loadEndMs - startedMs) / 1000),
      checkerCores: checkerCpu / ((loadEndMs - startedMs) / 1000),
      checkerEventsPerCpuS: closedEvents / Math.max(0.01, checkerCpu),
      lost: all.reduce((n, m) => n + m.lostEvents, 0),
      incomplete: all.filter((m) => m.status !== 'complete').length,
    };
  } finally {
    await phase.close();
  }
}

/** Events in every closed manifest so far (what the checker closed while we measured its CPU). */
async function closedEventCount(dir: string): Promise<number> {
  const storage = await LocalDirectoryStorage.open(dir);
  let n = 0;
  for (const type of TYPES) {
    for (const o of await storage.list(`${type}/`)) {
      if (o.key.endsWith(`/${layout.manifestName}`)) n += (JSON.parse((await storage.get(o.key)).toString('utf8')) as ClosedManifest).events;
    }
  }
  return n;
}

/** compactWindow over staged files a real Worker wrote, fast path and slow path: events per CPU-second (median of rounds). */
async function compactThroughput(registry: Registry, messages: number, rounds: number): Promise<{ fast: number; slow: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-compact-'));
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    const stage = async (version: number) => {
      const source = new FakeSource();
      const worker = new Worker(resolveWorkerOptions({}, { workerId: `bench-v${version}`, maxFileAgeMs: 3_600_000, maxFileBytes: 8 * 1024 * 1024 }), {
        registry,
        storage,
        source,
        clock: { nowUs: () => BASE_RECEIVE_US + 1 },
      });
      worker.start();
      for (let m = 0; m < messages; m++) {
        const b = buildBatch(registry, { version, publisher: `pub-v${version}-${m % 4}`, firstSeq: Math.floor(m / 4) * 1000, count: 1000, receiveUs: BASE_RECEIVE_US + m * 1000 });
        source.deliver(fakeInbound(b.data, b.attributes, 'track_played'));
      }
      await worker.flush();
      await worker.stop();
    };
    await stage(2);
    await stage(1);
    const window = windowOf(BASE_RECEIVE_US, 3600);
    const staged = (await new StagingIndex(storage, 3600).windows('track_played')).get(window)!.staged;
    const v2 = staged.filter((m) => m.manifest.version === 2);
    const v1 = staged.filter((m) => m.manifest.version === 1);
    const measure = async (manifests: typeof staged, label: string): Promise<number> => {
      const cpu = process.cpuUsage();
      const result = await compactWindow(storage, registry, manifests, {
        type: 'track_played',
        window,
        outPrefix: `bench-out/${label}/`,
        namePrefix: 'part',
        maxPartBytes: 256 * 1024 * 1024,
        codec: 'deflate',
        schemaVersion: 2,
      });
      const used = process.cpuUsage(cpu);
      for (const f of result.files) await storage.delete(f.key);
      if (result.events !== messages * 1000) throw new Error(`compaction wrote ${result.events} events, expected ${messages * 1000}`);
      return result.events / ((used.user + used.system) / 1e6);
    };
    await measure(v2, 'warm'); // warm-up: compile, JIT, page cache
    const fast: number[] = [];
    const slow: number[] = [];
    for (let r = 0; r < rounds; r++) {
      fast.push(await measure(v2, `fast-${r}`));
      slow.push(await measure(v1, `slow-${r}`));
    }
    return { fast: median(fast), slow: median(slow) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A publisher process: track_played as fast as backpressure allows (or `rate` events/s), plus a 2%
 * share each of the two small types; a JSON line of counters every second; SIGTERM closes it cleanly.
 */
async function publisherRole(windowS: number, prefix: string, rate: number): Promise<void> {
  const pubsub = emulatorClient(process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT!);
  const registry = await Registry.load();
  const publisher = new Publisher({ registry, pubsub, windowLengthS: windowS, topicPrefix: prefix, origin: 'bench-close' });
  const payloads = Array.from({ length: 4096 }, (_, i) => trackPlayed(i));
  const small = ['ui_interaction', 'search_performed'].map((type) => ({ type, payloads: Array.from({ length: 256 }, (_, i) => SAMPLE_EVENTS[type]!(i)) }));
  const smallEvery = Math.round(1 / SMALL_TYPE_SHARE);
  let published = 0;
  let failed = 0;
  const onFail = () => failed++;
  const publishOne = () => {
    const i = published++;
    if (i % smallEvery === 0) for (const s of small) publisher.publish(s.type, s.payloads[i & 255]!).catch(onFail);
    publisher.publish('track_played', payloads[i & 4095]!).catch(onFail);
  };
  let stopping = false;
  const report = () => process.stdout.write(`${JSON.stringify({ t: Date.now(), published, acked: publisher.stats().acknowledgedEvents, failed })}\n`);
  const timer = setInterval(report, 1000);
  process.once('SIGTERM', () => (stopping = true));
  process.stdout.write(`${JSON.stringify({ ready: true, publisher: publisher.id })}\n`);
  const hardStop = Date.now() + 1200_000; // bounded even if nobody stops us
  const started = Date.now();
  while (!stopping && Date.now() < hardStop) {
    if (rate > 0) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (published < due && !publisher.wouldBlock()) publishOne();
      await new Promise((r) => setTimeout(r, 10));
    } else if (publisher.wouldBlock()) {
      await new Promise((r) => setTimeout(r, 2));
    } else {
      for (let k = 0; k < 500; k++) publishOne();
      await new Promise((r) => setImmediate(r));
    }
  }
  await publisher.close();
  clearInterval(timer);
  report();
  await pubsub.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: with few samples the p99 is the largest, never an interpolation below it.
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function median(values: number[]): number {
  return quantile(values, 0.5);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args[0] === '--role' && args[1] === 'publisher') {
    await publisherRole(Number(args[2]), args[3]!, Number(args[4]));
  } else {
    const flags = new Set(args);
    const rateAt = args.indexOf('--rate');
    const windowsAt = args.indexOf('--windows');
    const rateEps = rateAt >= 0 ? Number(args[rateAt + 1]) : undefined;
    const windowsS = windowsAt >= 0 ? (args[windowsAt + 1]!.split(',').map(Number) as [number, number]) : undefined;
    const quick: BenchOptions = { windowsS: [12, 60], measuredWindows: [3, 1], minLoadS: [9, 24], compactMessages: 100, compactRounds: 2 };
    const results = await run({ ...(flags.has('--quick') ? quick : {}), ...(rateEps !== undefined ? { rateEps } : {}), ...(windowsS ? { windowsS } : {}) });
    if (flags.has('--json')) for (const r of results) console.log(JSON.stringify(r));
    else for (const r of results) console.log(`${r.name.padEnd(34)} ${String(r.value).padStart(10)}  ${r.unit}`);
    process.exit(0);
  }
}
