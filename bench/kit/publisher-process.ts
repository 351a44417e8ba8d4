// A benchmark's SDK publisher process: publishes through the real SDK at a rate or as fast as its backpressure allows, and reports per type what was acknowledged.
//
// Run as a child: node bench/kit/publisher-process.ts '<PublisherProcessOptions as JSON>'
// (with PUBSUB_EMULATOR_HOST and HOURGLASS_PROJECT). Lines on stdout, JSON:
//   {"ready":true,"publisher":…}                      registered: publishing starts now
//   {"t":…,"published":…,"acked":…,"failed":…}         every second, totals over the types
//   {"final":true,"publisher":…,"acknowledged":{type:n},"failed":n,"published":n,"firstPublishMs":…,"lastPublishMs":…,"cpuS":…}
// It stops publishing at stopAtMs or on SIGTERM, closes the publisher (everything sent is settled),
// writes the final line and exits. Seqs are per (publisher, type) from 0 without gaps, so with no
// failure the acknowledged seqs of a type are exactly [0, acknowledged[type]).
import { emulatorClient } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { SAMPLE_EVENTS, trackPlayed } from '../../test/helpers/sample-events.ts';
import { spawnChild, type Child } from './child-process.ts';

export interface PublisherProcessOptions {
  /** Window length of the pipeline (s). */
  readonly windowS: number;
  /** Topic prefix. Default: the SDK's. */
  readonly topicPrefix?: string;
  /** true: track_played plus MIX_SHARE each of ui_interaction and search_performed (three types close per window); false: track_played alone. */
  readonly mix: boolean;
  /** Events/s this process aims at (track_played); 0 = as fast as backpressure allows. */
  readonly rateEps: number;
  /** Stop publishing at this time (ms since epoch) if not stopped before by SIGTERM. Default: 20 minutes from the start. */
  readonly stopAtMs?: number;
  /** The SDK's origin (goes into the publisher id). */
  readonly origin: string;
}

/** Share of track_played events each of the two small types adds in a mix. */
export const MIX_SHARE = 0.02;
export const MIX_TYPES = ['track_played', 'ui_interaction', 'search_performed'] as const;

export interface PublisherFinal {
  readonly publisher: string;
  readonly acknowledged: Readonly<Record<string, number>>;
  readonly failed: number;
  readonly published: number;
  readonly firstPublishMs: number;
  readonly lastPublishMs: number;
  readonly cpuS: number;
}

/** Starts a publisher process; resolves once it is registered and publishing. */
export async function startPublisherProcess(options: PublisherProcessOptions, env: Record<string, string>): Promise<Child> {
  const child = spawnChild([SELF, JSON.stringify(options)], env);
  await child.line((l) => l.ready === true);
  return child;
}

/** Waits for a publisher process's final line (after stopAtMs, or send SIGTERM with stop()). */
export async function finalOf(child: Child): Promise<PublisherFinal> {
  return (await child.line((l) => l.final === true)) as unknown as PublisherFinal;
}

const SELF = new URL(import.meta.url).pathname;
const HARD_STOP_MS = 20 * 60_000;

async function publishLoop(o: PublisherProcessOptions): Promise<void> {
  const pubsub = emulatorClient(process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT!);
  const registry = await Registry.load();
  const publisher = new Publisher({ registry, pubsub, windowLengthS: o.windowS, origin: o.origin, ...(o.topicPrefix ? { topicPrefix: o.topicPrefix } : {}) });
  await publisher.ready();
  const types = o.mix ? MIX_TYPES : (['track_played'] as const);
  const payloads = new Map<string, object[]>(types.map((t) => [t, Array.from({ length: t === 'track_played' ? 4096 : 256 }, (_, i) => (t === 'track_played' ? trackPlayed(i) : SAMPLE_EVENTS[t]!(i)))]));
  const acknowledged: Record<string, number> = Object.fromEntries(types.map((t) => [t, 0]));
  let failed = 0;
  let published = 0;
  let tracks = 0;
  const smallEvery = Math.round(1 / MIX_SHARE);
  const send = (type: string, i: number) => {
    const list = payloads.get(type)!;
    published++;
    publisher.publish(type, list[i % list.length]!).then(
      () => acknowledged[type]!++,
      () => failed++,
    );
  };
  const publishOne = () => {
    const i = tracks++;
    if (o.mix && i % smallEvery === 0) for (const t of types.slice(1)) send(t, i);
    send('track_played', i);
  };
  const ackedTotal = () => Object.values(acknowledged).reduce((a, b) => a + b, 0);
  const report = () => emit({ t: Date.now(), published, acked: ackedTotal(), failed });
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  const firstPublishMs = Date.now();
  const stopAtMs = o.stopAtMs ?? firstPublishMs + HARD_STOP_MS;
  emit({ ready: true, publisher: publisher.id });
  const timer = setInterval(report, 1000);
  while (!stopping && Date.now() < stopAtMs) {
    if (o.rateEps > 0) {
      const due = Math.floor(((Date.now() - firstPublishMs) / 1000) * o.rateEps);
      while (tracks < due && !publisher.wouldBlock()) publishOne();
      await new Promise((r) => setTimeout(r, 10));
    } else if (publisher.wouldBlock()) {
      await new Promise((r) => setTimeout(r, 2));
    } else {
      for (let k = 0; k < 500 && !publisher.wouldBlock(); k++) publishOne();
      await new Promise((r) => setImmediate(r));
    }
  }
  const lastPublishMs = Date.now();
  await publisher.close();
  await new Promise((r) => setImmediate(r)); // the publish promises' callbacks
  clearInterval(timer);
  report();
  const cpu = process.cpuUsage();
  emit({ final: true, publisher: publisher.id, acknowledged, failed, published, firstPublishMs, lastPublishMs, cpuS: (cpu.user + cpu.system) / 1e6 });
  await pubsub.close();
  process.exit(0);
}

function emit(l: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(l)}\n`);
}

if (import.meta.main) await publishLoop(JSON.parse(process.argv[2] ?? '{}') as PublisherProcessOptions);
