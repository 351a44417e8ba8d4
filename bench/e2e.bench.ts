// Benchmark: the whole pipeline on this machine, SDK publisher → Pub/Sub emulator → worker → local-directory storage, beside the emulator's own ceiling measured in the same run.
//
// Run: node_modules/.bin/node bench/e2e.bench.ts [--json] [--quick] [--seconds N] [--publishers N]
//      (HG_BENCH_WORKER_NODE_OPTIONS=--cpu-prof … passes node options to the worker process, to profile it)
//
//   ceiling   a publisher process sends 100 KB messages as fast as the emulator takes them, and a
//             subscriber process only acks them; bytes/s over the steady part, as 100-byte events/s.
//   e2e       SDK publisher processes (2) publish ~100-byte track_played events as fast as their
//             backpressure allows; a worker process (services/worker/main.ts) stages them. The rate
//             is counted from the staging manifests (events in files made durable during the steady
//             part of the run); afterwards every published seq must be in some manifest (no loss).
//   rss       the worker process's peak resident memory (VmHWM) during the e2e run.
//
// Every process shares this machine's cores with the emulator, as in a real single-box run.
// This file is also the child processes' entry (--role …), so the benchmark is one file.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message } from '@google-cloud/pubsub';
import { emulatorClient, startLocalStack } from '../services/local-stack/local-stack.ts';
import { waitUntil } from '../services/local-stack/wait-until.ts';
import { Registry } from '../services/registry/registry.ts';
import { Publisher } from '../services/sdk/index.ts';
import { openStorage } from '../services/storage/open-storage.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../services/storage/staging-manifest.ts';
import type { Storage } from '../services/storage/storage.ts';
import { trackPlayed } from '../test/helpers/sample-events.ts';
import { cpuSeconds, groupCpuSeconds, killChildren, REPO_ROOT, spawnChild } from './kit/child-process.ts';
import { round } from './kit/stats.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

export interface BenchOptions {
  /** Seconds of publishing in the e2e run. Default: 25. */
  e2eSeconds?: number;
  /** Seconds of the ceiling run. Default: 12. */
  ceilingSeconds?: number;
  /** Seconds at the start of each run not counted (processes warming up). Default: 4. */
  warmupSeconds?: number;
  /** SDK publisher processes in the e2e run (one SDK process tops out near one core). Default: 2. */
  publishers?: number;
}

const SELF = fileURLToPath(import.meta.url);
const CEILING_MESSAGE_BYTES = 100 * 1024;
const EVENT_BYTES = 100;

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const e2eSeconds = options.e2eSeconds ?? 25;
  const ceilingSeconds = options.ceilingSeconds ?? 12;
  const warmupS = options.warmupSeconds ?? 4;
  const publisherCount = options.publishers ?? 2;
  const registry = await Registry.load();
  const stack = await startLocalStack({ registry });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-e2e-'));
  try {
    const env = { PUBSUB_EMULATOR_HOST: stack.pubsub.host, HOURGLASS_PROJECT: stack.pubsub.projectId };

    // --- ceiling: raw 100 KB messages, an ack-only subscriber.
    const topic = `bench-ceiling-${randomBytes(3).toString('hex')}`;
    await stack.client.createTopic(topic);
    await stack.client.topic(topic).createSubscription(`${topic}-sub`, { ackDeadlineSeconds: 60 });
    const subscriber = spawnChild([SELF, '--role', 'ack-subscriber', `${topic}-sub`], env);
    await subscriber.line((l) => l.ready === true);
    const rawPublisher = spawnChild([SELF, '--role', 'raw-publisher', topic, String(ceilingSeconds)], env);
    const samples: Array<{ t: number; bytes: number }> = [];
    subscriber.onLine((l) => {
      if (typeof l.bytes === 'number') samples.push({ t: l.t as number, bytes: l.bytes });
    });
    await rawPublisher.exited;
    await subscriber.stop();
    const ceilingBytesPerS = medianRate(samples, warmupS * 1000, (ceilingSeconds - 1) * 1000);
    const ceilingEps = ceilingBytesPerS / EVENT_BYTES;

    // --- e2e: SDK → emulator → worker → local directory.
    const storage = await openStorage(dir);
    const worker = spawnChild([path.join(REPO_ROOT, 'services/worker/main.ts')], {
      ...env,
      HOURGLASS_BUCKET: `file://${dir}`,
      HOURGLASS_TYPES: 'track_played',
      ...(process.env.HG_BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HG_BENCH_WORKER_NODE_OPTIONS } : {}),
    });
    await worker.line((l) => l.event === 'worker_started');
    const workerRss = rssSampler(worker.pid);
    const cpuBefore = { emulator: await groupCpuSeconds(stack.pubsub.pid), worker: await cpuSeconds(worker.pid) };
    const startedMs = Date.now();
    const publishers = Array.from({ length: publisherCount }, () => spawnChild([SELF, '--role', 'sdk-publisher', String(e2eSeconds)], env));
    const done = await Promise.all(publishers.map((p) => p.line((l) => typeof l.published === 'number')));
    const pubEndMs = Date.now();
    const cpuRun = {
      emulator: (await groupCpuSeconds(stack.pubsub.pid)) - cpuBefore.emulator,
      worker: (await cpuSeconds(worker.pid)) - cpuBefore.worker,
      publishers: done.reduce((n, d) => n + (d.cpuS as number), 0),
    };
    const published = done.reduce((n, d) => n + (d.published as number), 0);
    const failed = done.reduce((n, d) => n + (d.failed as number), 0);
    const covered = (ms: readonly StagingManifest[]) => done.reduce((n, d) => n + coveredSeqs(ms, d.publisher as string), 0);
    // Drain: every published seq must reach a manifest.
    let manifests: StagingManifest[] = [];
    await waitUntil(
      `all ${published} published events in staging`,
      async () => {
        manifests = await readManifests(storage);
        return covered(manifests) >= published;
      },
      120_000,
      500,
    );
    const peakRssBytes = await workerRss.stop();
    await worker.stop();
    const from = startedMs + warmupS * 1000;
    const stagedInWindow = manifests.filter((m) => m.writtenAtUs / 1000 >= from && m.writtenAtUs / 1000 <= pubEndMs).reduce((n, m) => n + m.events, 0);
    const e2eEps = stagedInWindow / ((pubEndMs - from) / 1000);
    const duplicates = manifests.reduce((n, m) => n + m.events, 0) - covered(manifests);
    return [
      { name: 'emulator_ceiling_mb_s', value: round(ceilingBytesPerS / 1e6, 1), unit: `MB/s of ${CEILING_MESSAGE_BYTES / 1024} KB messages, ack-only subscriber` },
      { name: 'emulator_ceiling_eps', value: Math.round(ceilingEps), unit: `${EVENT_BYTES}-byte-event equivalents/s` },
      { name: 'e2e_eps', value: Math.round(e2eEps), unit: 'events/s staged (steady part of the run)' },
      { name: 'e2e_published_eps', value: Math.round(published / ((pubEndMs - startedMs) / 1000)), unit: `events/s accepted by the SDK publisher(s) (whole run)` },
      { name: 'e2e_vs_ceiling', value: round(e2eEps / ceilingEps, 2), unit: 'x (e2e_eps / emulator_ceiling_eps)' },
      { name: 'e2e_lost_events', value: published - covered(manifests) + failed, unit: 'events (must be 0)' },
      { name: 'e2e_duplicate_events', value: duplicates, unit: 'events staged twice (allowed in staging)' },
      { name: 'e2e_cpu_share_publishers', value: round(cpuRun.publishers / ((pubEndMs - startedMs) / 1000), 2), unit: `cores used by the ${publisherCount} SDK publisher process(es)` },
      { name: 'e2e_cpu_share_emulator', value: round(cpuRun.emulator / ((pubEndMs - startedMs) / 1000), 2), unit: 'cores used by the emulator' },
      { name: 'e2e_cpu_share_worker', value: round(cpuRun.worker / ((pubEndMs - startedMs) / 1000), 2), unit: 'cores used by the worker process' },
      { name: 'worker_eps_per_core', value: Math.round(published / cpuRun.worker), unit: 'events per CPU-second of the worker process (gRPC, acks and writes included)' },
      { name: 'worker_rss_mb', value: Math.round(peakRssBytes / (1024 * 1024)), unit: 'MB peak resident memory of the worker process' },
    ];
  } finally {
    // Whatever is still running (after a failure) goes first, then the emulator.
    killChildren();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The parent's helpers.

/**
 * Median bytes/s over 1-second steps between `fromMs` and `toMs` after the first sample (samples are
 * cumulative). The median, because this machine is shared: a few seconds of someone else's load
 * should not decide the ceiling.
 */
function medianRate(samples: ReadonlyArray<{ t: number; bytes: number }>, fromMs: number, toMs: number): number {
  if (samples.length < 2) return 0;
  const t0 = samples[0]!.t;
  const inside = samples.filter((s) => s.t - t0 >= fromMs && s.t - t0 <= toMs);
  const rates: number[] = [];
  for (let i = 0, j = 0; i < inside.length; i++) {
    while (j < inside.length && inside[j]!.t - inside[i]!.t < 1000) j++;
    if (j >= inside.length) break;
    rates.push(((inside[j]!.bytes - inside[i]!.bytes) * 1000) / (inside[j]!.t - inside[i]!.t));
    i = j - 1;
  }
  rates.sort((a, b) => a - b);
  return rates.length === 0 ? 0 : rates[rates.length >> 1]!;
}

/** Samples a process's resident memory; stop() returns the peak (VmHWM, which the kernel keeps). */
function rssSampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  const read = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
  };
  const timer = setInterval(() => void read(), 500);
  return {
    stop: async () => {
      clearInterval(timer);
      await read();
      return peak;
    },
  };
}

async function readManifests(storage: Storage): Promise<StagingManifest[]> {
  const keys = (await storage.list('staging/')).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX));
  return Promise.all(keys.map(async (o) => parseStagingManifest(o.key, await storage.get(o.key))));
}

/** How many distinct seqs of `publisher` the manifests list. */
function coveredSeqs(manifests: readonly StagingManifest[], publisher: string): number {
  const ranges = manifests.flatMap((m) => m.messages.filter((x) => x.publisher === publisher).map((x) => [x.firstSeq, x.firstSeq + x.count] as const));
  ranges.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = 0;
  for (const [s, e] of ranges) {
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  return covered;
}

// ---------------------------------------------------------------------------------------------
// Child roles.

function emit(l: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(l)}\n`);
}

function client() {
  const [host, project] = [process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT!];
  return emulatorClient(host, project);
}

/** Publishes 100 KB messages as fast as the emulator accepts them, for `seconds`. */
async function rawPublisher(topicName: string, seconds: number): Promise<void> {
  const pubsub = client();
  const topic = pubsub.topic(topicName, { batching: { maxMessages: 10, maxMilliseconds: 5, maxBytes: 9 * 1024 * 1024 } });
  const payloads = Array.from({ length: 16 }, () => randomBytes(CEILING_MESSAGE_BYTES));
  const end = Date.now() + seconds * 1000;
  const inFlight = new Set<Promise<unknown>>();
  let sent = 0;
  while (Date.now() < end) {
    while (inFlight.size >= 64) await Promise.race(inFlight);
    const p = topic.publishMessage({ data: payloads[sent++ % payloads.length]! }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.allSettled(inFlight);
  emit({ sent });
  await pubsub.close();
}

/** Acks everything and reports cumulative bytes every 250 ms. */
async function ackSubscriber(subscriptionName: string): Promise<void> {
  const pubsub = client();
  const subscription = pubsub.subscription(subscriptionName, { flowControl: { maxMessages: 500, maxBytes: 128 * 1024 * 1024 } });
  let bytes = 0;
  let messages = 0;
  subscription.on('message', (m: Message) => {
    bytes += m.length;
    messages++;
    m.ack();
  });
  subscription.on('error', () => undefined);
  const timer = setInterval(() => emit({ t: Date.now(), bytes, messages }), 250);
  emit({ ready: true });
  process.on('SIGTERM', () => {
    clearInterval(timer);
    void subscription.close().then(() => pubsub.close()).then(() => process.exit(0));
  });
}

/** Publishes track_played events through the SDK for `seconds`, as fast as its backpressure allows. */
async function sdkPublisher(seconds: number): Promise<void> {
  const pubsub = client();
  const registry = await Registry.load();
  const publisher = new Publisher({ registry, pubsub, origin: 'bench' });
  const payloads = Array.from({ length: 4096 }, (_, i) => trackPlayed(i));
  const end = Date.now() + seconds * 1000;
  let published = 0;
  let failed = 0;
  const onFail = () => failed++;
  while (Date.now() < end) {
    if (publisher.wouldBlock()) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    for (let i = 0; i < 500; i++) publisher.publish('track_played', payloads[published++ & 4095]!).catch(onFail);
    await new Promise((r) => setImmediate(r));
  }
  await publisher.close();
  const cpu = process.cpuUsage();
  emit({ publisher: publisher.id, published, failed, cpuS: (cpu.user + cpu.system) / 1e6 });
  await pubsub.close();
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const role = args[0] === '--role' ? args[1] : undefined;
  if (role === 'raw-publisher') await rawPublisher(args[2]!, Number(args[3]));
  else if (role === 'ack-subscriber') await ackSubscriber(args[2]!);
  else if (role === 'sdk-publisher') await sdkPublisher(Number(args[2]));
  else {
    const flags = new Set(args);
    const secondsAt = args.indexOf('--seconds');
    const publishersAt = args.indexOf('--publishers');
    const e2eSeconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : undefined;
    const publishers = publishersAt >= 0 ? Number(args[publishersAt + 1]) : undefined;
    const results = await run(flags.has('--quick') ? { e2eSeconds: 12, ceilingSeconds: 8, warmupSeconds: 3, publishers } : { e2eSeconds, publishers });
    if (flags.has('--json')) for (const r of results) console.log(JSON.stringify(r));
    else for (const r of results) console.log(`${r.name.padEnd(24)} ${String(r.value).padStart(12)}  ${r.unit}`);
    process.exit(0);
  }
}
