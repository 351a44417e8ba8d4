// Benchmark: the publisher SDK from one process — into the Pub/Sub emulator, and its encode + batch path alone (no Pub/Sub).
//
// Run: node_modules/.bin/node bench/sdk-publish.bench.ts [--json] [--quick]
//
//   sdk_publish_eps            this process publishes ~100-byte track_played events with Publisher.publish
//                              as fast as its backpressure allows; events acknowledged by the emulator per
//                              second (median of 1-second steps after a warm-up). The topic has no
//                              subscription, so the emulator only accepts and drops: the figure is the
//                              publish path, not a subscriber's.
//   sdk_encode_eps_per_core    what publish() does before a message leaves: validate the payload against the
//                              schema, stamp, encode the delivered record (EventEncoder) into a window-bounded
//                              batch (OpenBatch), seal it and deflate it; events per CPU-second.
//   sdk_encode_only_eps_per_core  the same without validation (what a caller that trusts its payloads costs).
import { randomBytes } from 'node:crypto';
import { emulatorClient, startLocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { validatePayload } from '../services/registry/payload-validator.ts';
import { EventEncoder } from '../services/sdk/event-encoder.ts';
import { Publisher } from '../services/sdk/index.ts';
import { OpenBatch } from '../services/sdk/open-batch.ts';
import { MonotonicStamper, systemClock } from '../services/time/clock.ts';
import { compressBlock } from '../services/wire/codecs.ts';
import { windowOf } from '../services/wire/window.ts';
import { trackPlayed } from '../test/helpers/sample-events.ts';
import { median, round } from './kit/stats.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

export interface BenchOptions {
  /** Seconds of publishing into the emulator. Default: 15. */
  publishSeconds?: number;
  /** Seconds at the start not counted. Default: 3. */
  warmupSeconds?: number;
  /** Rounds of the encode-only measurement (median reported). Default: 5. */
  encodeRounds?: number;
  /** Events per encode round. Default: 300,000. */
  encodeEvents?: number;
}

const TYPE = 'track_played';

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const publishSeconds = options.publishSeconds ?? 15;
  const warmupS = options.warmupSeconds ?? 3;
  const registry = await Registry.load();
  const payloads = Array.from({ length: 4096 }, (_, i) => trackPlayed(i));

  // --- encode + batch, no Pub/Sub: first, so the emulator's JVM is not yet competing for the cores.
  const encodeRounds = options.encodeRounds ?? 5;
  const encodeEvents = options.encodeEvents ?? 300_000;
  const withValidation: number[] = [];
  const withoutValidation: number[] = [];
  let eventBytes = 0;
  encodeRound(registry, payloads, 20_000, true); // warm-up: compile, JIT
  encodeRound(registry, payloads, 20_000, false);
  for (let r = 0; r < encodeRounds; r++) {
    const a = encodeRound(registry, payloads, encodeEvents, true);
    const b = encodeRound(registry, payloads, encodeEvents, false);
    withValidation.push(encodeEvents / a.cpuS);
    withoutValidation.push(encodeEvents / b.cpuS);
    eventBytes = a.bytes / encodeEvents;
  }

  // --- into the emulator.
  const stack = await startLocalStack({ registry });
  const prefix = `hgbench${randomBytes(3).toString('hex')}-`;
  const pubsub = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
  try {
    // Topics without subscriptions: the emulator accepts and drops, so nothing piles up in it.
    await pubsub.createTopic(`${prefix}${TYPE}`);
    await pubsub.createTopic(`${prefix}control`);
    const publisher = new Publisher({ registry, pubsub, topicPrefix: prefix, origin: 'bench' });
    const samples: Array<{ t: number; acked: number }> = [];
    const sampler = setInterval(() => samples.push({ t: Date.now(), acked: publisher.stats().acknowledgedEvents }), 250);
    const cpu = process.cpuUsage();
    const started = Date.now();
    const end = started + publishSeconds * 1000;
    let published = 0;
    let failed = 0;
    const onFail = () => failed++;
    while (Date.now() < end) {
      if (publisher.wouldBlock()) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      for (let i = 0; i < 500; i++) publisher.publish(TYPE, payloads[published++ & 4095]!).catch(onFail);
      await new Promise((r) => setImmediate(r));
    }
    await publisher.close();
    clearInterval(sampler);
    const used = process.cpuUsage(cpu);
    const wallS = (Date.now() - started) / 1000;
    const eps = medianRate(samples, warmupS * 1000, (publishSeconds - 0.5) * 1000);
    return [
      { name: 'sdk_publish_eps', value: Math.round(eps), unit: `events/s acknowledged by the emulator, one process (~${Math.round(eventBytes)}-byte ${TYPE}, default batching)` },
      { name: 'sdk_publish_cpu_cores', value: round((used.user + used.system) / 1e6 / wallS, 2), unit: 'cores used by the publishing process' },
      { name: 'sdk_publish_failed_events', value: failed, unit: 'events (must be 0)' },
      { name: 'sdk_encode_eps_per_core', value: Math.round(median(withValidation)), unit: 'events/CPU-s: validate + stamp + encode + batch + deflate, no Pub/Sub' },
      { name: 'sdk_encode_only_eps_per_core', value: Math.round(median(withoutValidation)), unit: 'events/CPU-s: the same without schema validation' },
      { name: 'sdk_event_bytes', value: round(eventBytes, 1), unit: 'bytes/event (uncompressed delivered record)' },
    ];
  } finally {
    await pubsub.close().catch(() => undefined);
    await stack.stop();
  }
}

/** What publish() does per event before the message is sent, for `events` events; returns CPU seconds and uncompressed bytes. */
function encodeRound(registry: Registry, payloads: ReadonlyArray<Record<string, unknown>>, events: number, validate: boolean): { cpuS: number; bytes: number; wireBytes: number } {
  const version = registry.require(TYPE).latest;
  const encoder = new EventEncoder(version, 'bench-publisher-0123456789');
  const stamper = new MonotonicStamper(systemClock);
  const windowS = 3600;
  let batch: OpenBatch | undefined;
  let bytes = 0;
  let sink = 0;
  const cpu = process.cpuUsage();
  for (let seq = 0; seq < events; seq++) {
    const payload = payloads[seq & 4095]!;
    if (validate && validatePayload(version, payload).length > 0) throw new Error('invalid sample payload');
    const receiveUs = stamper.stamp();
    const window = windowOf(receiveUs, windowS);
    if (batch && !batch.accepts(version.version, window)) batch = seal(batch);
    batch ??= new OpenBatch(TYPE, version.version, window, seq, 64 * 1024, 0);
    bytes += encoder.append(batch.sink, payload, seq, receiveUs, undefined);
    batch.noteEvent(receiveUs, false);
    if (batch.count >= 1000) batch = seal(batch);
  }
  if (batch) seal(batch);
  const used = process.cpuUsage(cpu);
  return { cpuS: (used.user + used.system) / 1e6, bytes, wireBytes: sink };

  function seal(b: OpenBatch): undefined {
    sink += compressBlock('deflate', b.seal('deflate').datums).length;
    return undefined;
  }
}

/** Median events/s over 1-second steps of cumulative samples between fromMs and toMs after the first sample. */
function medianRate(samples: ReadonlyArray<{ t: number; acked: number }>, fromMs: number, toMs: number): number {
  if (samples.length < 2) return 0;
  const t0 = samples[0]!.t;
  const inside = samples.filter((s) => s.t - t0 >= fromMs && s.t - t0 <= toMs);
  const rates: number[] = [];
  for (let i = 0, j = 0; i < inside.length; i++) {
    while (j < inside.length && inside[j]!.t - inside[i]!.t < 1000) j++;
    if (j >= inside.length) break;
    rates.push(((inside[j]!.acked - inside[i]!.acked) * 1000) / (inside[j]!.t - inside[i]!.t));
    i = j - 1;
  }
  return rates.length === 0 ? 0 : median(rates);
}

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  const results = await run(args.has('--quick') ? { publishSeconds: 8, warmupSeconds: 2, encodeRounds: 3, encodeEvents: 150_000 } : {});
  if (args.has('--json')) for (const r of results) console.log(JSON.stringify(r));
  else for (const r of results) console.log(`${r.name.padEnd(30)} ${String(r.value).padStart(12)}  ${r.unit}`);
  process.exit(0);
}
