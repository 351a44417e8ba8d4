// Benchmark: the worker's core path in one process, from received message batches to finished staging bytes (no Pub/Sub, no disk).
//
// Run: node_modules/.bin/node bench/worker-core.bench.ts [--json] [--quick]
// Pre-built batch messages, encoded exactly as the SDK encodes them (1000 track_played events each),
// are delivered to a real Worker through an in-memory source; it validates each one (attributes,
// decompression, the record-count proof), groups them into staging files of 32 MiB, seals them
// (container bytes, SHA-256, manifest JSON) and "writes" them to a storage that only counts bytes.
// Events per CPU-second is the per-core figure: the path is single-threaded, and CPU time (not wall
// time) keeps other load on the machine out of it as far as possible.
import { Registry } from '../services/registry/registry.ts';
import type { ObjectInfo, Storage } from '../services/storage/storage.ts';
import type { CodecName } from '../services/wire/codecs.ts';
import { resolveWorkerOptions } from '../services/worker/worker-options.ts';
import { Worker } from '../services/worker/worker.ts';
import { buildBatch, FakeSource, fakeInbound, type BuiltBatch } from '../test/fixtures/worker-messages.ts';
import { runStandalone, type BenchResult } from './kit/results.ts';
import { median } from './kit/stats.ts';

export interface BenchOptions {
  /** Messages per round. Default: 300 (300,000 events). */
  messages?: number;
  /** Events per message, as the SDK's default batch. Default: 1000. */
  eventsPerMessage?: number;
  /** Rounds per codec; the median is reported. Default: 5. */
  rounds?: number;
  /** Codecs to measure; the first is the headline figure. Default: deflate, zstandard, snappy. */
  codecs?: CodecName[];
}

/** A storage that keeps nothing: the benchmark stops at finished bytes. */
class CountingStorage implements Storage {
  readonly location = 'null://';
  bytes = 0;
  async createOnly(_key: string, data: Uint8Array | string): Promise<void> {
    this.bytes += typeof data === 'string' ? data.length : data.byteLength;
  }
  put(key: string, data: Uint8Array | string): Promise<void> {
    return this.createOnly(key, data);
  }
  async get(): Promise<Buffer> {
    throw new Error('not kept');
  }
  async getRange(): Promise<Buffer> {
    throw new Error('not kept');
  }
  async stat(): Promise<ObjectInfo | undefined> {
    return undefined;
  }
  async list(): Promise<ObjectInfo[]> {
    return [];
  }
  async copy(): Promise<void> {}
  async delete(): Promise<void> {}
  async close(): Promise<void> {}
}

interface Round {
  events: number;
  cpuS: number;
  wallS: number;
}

async function round(registry: Registry, batches: readonly BuiltBatch[]): Promise<Round> {
  const storage = new CountingStorage();
  const source = new FakeSource();
  const options = resolveWorkerOptions({}, { workerId: 'bench', maxFileAgeMs: 3_600_000 });
  // The batches' receive times are fixed in the past; a clock inside their window keeps them open.
  const clock = { nowUs: () => Number(batches[0]!.attributes.min_rt) + 1 };
  const worker = new Worker(options, { registry, storage, source, clock });
  worker.start();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (const b of batches) source.deliver(fakeInbound(b.data, b.attributes, 'track_played'));
  await worker.flush();
  const used = process.cpuUsage(cpu);
  const wallS = (performance.now() - wall) / 1000;
  await worker.stop();
  const stats = worker.stats();
  const events = batches.reduce((n, b) => n + Number(b.attributes.count), 0);
  if (stats.stagedEvents !== events || stats.acks !== batches.length) throw new Error(`benchmark lost events: ${JSON.stringify(stats)}`);
  return { events, cpuS: (used.user + used.system) / 1e6, wallS };
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const messages = options.messages ?? 300;
  const eventsPerMessage = options.eventsPerMessage ?? 1000;
  const rounds = options.rounds ?? 5;
  const codecs = options.codecs ?? ['deflate', 'zstandard', 'snappy'];
  const registry = await Registry.load();
  const results: BenchResult[] = [];
  for (const [i, codec] of codecs.entries()) {
    // Three publishers, as a real stream interleaves them; short ids like "gw-a" keep events near 100 bytes.
    const batches = Array.from({ length: messages }, (_, m) =>
      buildBatch(registry, { codec, publisher: `gw-${'abc'[m % 3]}`, firstSeq: Math.floor(m / 3) * eventsPerMessage, count: eventsPerMessage }),
    );
    const datumBytes = batches.reduce((n, b) => n + b.datums.length, 0);
    const wireBytes = batches.reduce((n, b) => n + b.data.length, 0);
    await round(registry, batches.slice(0, Math.min(50, messages))); // warm-up: compile, JIT
    const perCpu: number[] = [];
    const perWall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { events, cpuS, wallS } = await round(registry, batches);
      perCpu.push(events / cpuS);
      perWall.push(events / wallS);
    }
    const suffix = i === 0 ? '' : `_${codec}`;
    if (i === 0) results.push({ name: 'worker_core_event_bytes', value: round1(datumBytes / (messages * eventsPerMessage)), unit: 'bytes/event (uncompressed delivered record)' });
    results.push(
      { name: `worker_core_eps_per_core${suffix}`, value: Math.round(median(perCpu)), unit: `events/CPU-s (${codec}; median of ${rounds} rounds)` },
      { name: `worker_core_eps_wall${suffix}`, value: Math.round(median(perWall)), unit: `events/s wall (${codec}; median of ${rounds} rounds)` },
      { name: `worker_core_ratio${suffix}`, value: round1(datumBytes / wireBytes), unit: `x smaller on the wire (${codec})` },
    );
  }
  return results;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export const QUICK: BenchOptions = { messages: 100, rounds: 3 };

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  await runStandalone(() => run(args.has('--quick') ? QUICK : {}), args.has('--json'));
}
