// Benchmark: the publisher SDK from one process — into the Pub/Sub emulator, and its encode + batch path alone (no Pub/Sub).
//
// Run: node_modules/.bin/node bench/sdk-publish.bench.ts [--json] [--quick]
//
//   sdk_publish_eps            this process publishes ~100-byte track_played events with Publisher.publish
//                              as fast as its backpressure allows; events acknowledged by the emulator per
//                              second (median of 1-second steps after a warm-up). The topic has no
//                              subscription, so the emulator only accepts and drops: the figure is the
//                              publish path, not a subscriber's.
//   sdk_publish_eps_per_core   the same run: events acknowledged per CPU-second of this process (the whole
//                              run, warm-up and close included).
//   sdk_mix_events_per_message a paced mix through one publisher, as a gateway sees it: track_played at
//                              3000/s, search_performed at 300/s, ui_interaction at 30/s, fire and forget;
//                              events per message with the default (adaptive) linger, and with a fixed
//                              20 ms one (…_linger20, the former default); sdk_mix_publish_p99_ms: the
//                              99th percentile of publish() to its promise resolving.
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
import type { PubSub } from '@google-cloud/pubsub';
import { type PublisherOptions } from '../services/sdk/publisher-options.ts';
import { searchPerformed, trackPlayed, uiInteraction } from '../test/helpers/sample-events.ts';
import { mustBeZero, requireZeros, runStandalone, type BenchResult } from './kit/results.ts';
import { median, medianRate, quantile, round } from './kit/stats.ts';

export interface BenchOptions {
  /** Seconds of publishing into the emulator. Default: 15. */
  publishSeconds?: number;
  /** Seconds at the start not counted. Default: 3. */
  warmupSeconds?: number;
  /** Rounds of the encode-only measurement (median reported). Default: 5. */
  encodeRounds?: number;
  /** Events per encode round. Default: 300,000. */
  encodeEvents?: number;
  /** Seconds of each paced mix (adaptive linger, then 20 ms). Default: 6. */
  mixSeconds?: number;
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
    for (const type of MIX_TYPES) await pubsub.createTopic(`${prefix}${type}`);
    await pubsub.createTopic(`${prefix}control`);
    const publisher = new Publisher({ registry, pubsub, topicPrefix: prefix, origin: 'bench' });
    const samples: Array<{ t: number; n: number }> = [];
    const sampler = setInterval(() => samples.push({ t: Date.now(), n: publisher.stats().acknowledgedEvents }), 250);
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
    const acknowledged = publisher.stats().acknowledgedEvents;
    const mixSeconds = options.mixSeconds ?? 6;
    const adaptive = await mix(registry, pubsub, { topicPrefix: prefix }, mixSeconds);
    const fixed = await mix(registry, pubsub, { topicPrefix: prefix, lingerMs: 20 }, mixSeconds);
    return requireZeros([
      { name: 'sdk_publish_eps', value: Math.round(eps.perS), unit: `events/s acknowledged by the emulator, one process (~${Math.round(eventBytes)}-byte ${TYPE}, default batching; median of ${eps.steps} one-second steps)` },
      { name: 'sdk_publish_cpu_cores', value: round((used.user + used.system) / 1e6 / wallS, 2), unit: 'cores used by the publishing process' },
      { name: 'sdk_publish_eps_per_core', value: Math.round(acknowledged / ((used.user + used.system) / 1e6)), unit: 'events acknowledged per CPU-second of the publishing process (whole run)' },
      mustBeZero('sdk_publish_failed_events', failed + adaptive.failed + fixed.failed, 'events whose publish failed'),
      { name: 'sdk_mix_events_per_message', value: round(adaptive.eventsPerMessage, 1), unit: `events/message, paced 3-type mix (${MIX_RATES.join('/')} events/s), default linger (adaptive), ${mixSeconds} s` },
      { name: 'sdk_mix_events_per_message_linger20', value: round(fixed.eventsPerMessage, 1), unit: 'events/message, the same mix with lingerMs: 20 (the former default)' },
      { name: 'sdk_mix_publish_p99_ms', value: round(adaptive.p99Ms, 1), unit: `ms, publish() to resolved, p99 of ${adaptive.events} events, default linger (max ${round(adaptive.maxMs, 1)})` },
      { name: 'sdk_mix_publish_p99_ms_linger20', value: round(fixed.p99Ms, 1), unit: `ms, the same with lingerMs: 20 (max ${round(fixed.maxMs, 1)})` },
      { name: 'sdk_encode_eps_per_core', value: Math.round(median(withValidation)), unit: `events/CPU-s: validate + stamp + encode + batch + deflate, no Pub/Sub (median of ${encodeRounds} rounds)` },
      { name: 'sdk_encode_only_eps_per_core', value: Math.round(median(withoutValidation)), unit: `events/CPU-s: the same without schema validation (median of ${encodeRounds} rounds)` },
      { name: 'sdk_event_bytes', value: round(eventBytes, 1), unit: 'bytes/event (uncompressed delivered record)' },
    ]);
  } finally {
    await pubsub.close().catch(() => undefined);
    await stack.stop();
  }
}

const MIX_TYPES = [TYPE, 'search_performed', 'ui_interaction'] as const;
/** Events/s of each of MIX_TYPES: a fast, a middling and a slow type, as one gateway instance of docs/scale-model.md sees them. */
const MIX_RATES = [3000, 300, 30] as const;
const MIX_PAYLOADS = [trackPlayed, searchPerformed, uiInteraction] as const;

/**
 * One publisher, the three types paced at MIX_RATES for `seconds` (every ~1 ms timer tick, the events due
 * by then): events per message (messages counted as the publisher hands them to the client) and publish latency.
 */
async function mix(registry: Registry, pubsub: PubSub, options: Partial<PublisherOptions>, seconds: number): Promise<{ eventsPerMessage: number; p99Ms: number; maxMs: number; events: number; failed: number }> {
  let messages = 0;
  // Counts the messages of event topics the publisher publishes (a wrapper over the client; heartbeats left out).
  const counting = Object.create(pubsub, {
    topic: {
      value: (name: string, topicOptions: object) => {
        const topic = pubsub.topic(name, topicOptions);
        if (!name.endsWith('control')) {
          const publishMessage = topic.publishMessage.bind(topic);
          topic.publishMessage = ((message: Parameters<typeof publishMessage>[0]) => {
            messages++;
            return publishMessage(message);
          }) as typeof topic.publishMessage;
        }
        return topic;
      },
    },
  }) as PubSub;
  const publisher = new Publisher({ registry, pubsub: counting, origin: 'bench', ...options });
  await publisher.ready();
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  let failed = 0;
  const sent = MIX_TYPES.map(() => 0);
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const elapsedS = (performance.now() - started) / 1000;
    for (let t = 0; t < MIX_TYPES.length; t++) {
      for (; sent[t]! < Math.floor(MIX_RATES[t]! * elapsedS); sent[t]!++) {
        const at = performance.now();
        pending.push(
          publisher.publish(MIX_TYPES[t]!, MIX_PAYLOADS[t]!(sent[t]!)).then(
            () => void latencies.push(performance.now() - at),
            () => void failed++,
          ),
        );
      }
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  await publisher.close();
  return { eventsPerMessage: latencies.length / messages, p99Ms: quantile(latencies, 0.99), maxMs: Math.max(...latencies), events: latencies.length, failed };
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

export const QUICK: BenchOptions = { publishSeconds: 8, warmupSeconds: 2, encodeRounds: 3, encodeEvents: 150_000, mixSeconds: 3 };

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  await runStandalone(() => run(args.has('--quick') ? QUICK : {}), args.has('--json'));
}
