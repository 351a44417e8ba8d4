// Simulation: one checker round at scale (many types, many publishers), with the real Checker and close rule, on an in-memory bucket that counts requests.
//
// Run: node_modules/.bin/node bench/checker-sim.bench.ts [--json] [--quick] [--types N] [--publishers N] [--files N]
//
// For docs/scale-model.md: what a round of the checker costs when hourglass carries hundreds of types.
// A registry of N synthetic types (copies of search_performed) is generated; the bucket holds, for
// each type, one open hour with `files` staged files (each listing `messagesPerFile` messages), the
// coverage of earlier hours, and one heartbeat snapshot of P live publishers, each publishing
// `typesPerPublisher` types. Checker.tick() runs against it (no Pub/Sub: heartbeats come from the
// bucket, as for a replica). Measured per round:
//   - CPU time of a round while every hour is open (the steady state for 59 of 60 minutes);
//   - bucket requests per round by kind (list, get, put) and bytes read;
//   - the state kept in the bucket: heartbeat snapshot and coverage bytes;
//   - CPU of the close rule alone (decideClose) for every type at the hour's end, and how many
//     publishers a closed manifest names (every live publisher, also those silent for the type).
// The in-memory bucket's own cost is inside the CPU figures; it is small (binary search over sorted keys).
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Checker } from '../services/checker/checker.ts';
import { resolveCheckerOptions } from '../services/checker/checker-options.ts';
import { decideClose, type PublisherView } from '../services/checker/close-rule.ts';
import { WindowedRuns } from '../services/checker/windowed-runs.ts';
import { HourglassError } from '../services/errors/catalogue.ts';
import { DEFAULT_SCHEMAS_DIR, Registry } from '../services/registry/registry.ts';
import { layout } from '../services/storage/layout.ts';
import { STAGING_MANIFEST_FORMAT, type StagingManifest } from '../services/storage/staging-manifest.ts';
import type { ObjectInfo, Storage } from '../services/storage/storage.ts';
import { windowOf, windowStartUs } from '../services/wire/window.ts';
import { runStandalone, type BenchResult } from './kit/results.ts';
import { median } from './kit/stats.ts';

export interface BenchOptions {
  /** Event types. Default: 500. */
  types?: number;
  /** Live publishers (processes). Default: 1000. */
  publishers?: number;
  /** Types each publisher publishes. Default: 20. */
  typesPerPublisher?: number;
  /** Staged files per type in the open hour. Default: 100. */
  files?: number;
  /** Messages listed per staged file. Default: 20. */
  messagesPerFile?: number;
  /** Rounds measured (median reported). Default: 5. */
  rounds?: number;
  /** Latency added to every bucket request in one extra round (ms), as GCS would add. Default: 20. */
  requestLatencyMs?: number;
}

const WINDOW_S = 3600;
/** Types at a time of the second latency round. */
const NARROW = 8;

/** A bucket in memory: sorted keys for prefix lists, request counters. */
class CountingMemoryStorage implements Storage {
  readonly location = 'mem://sim';
  readonly objects = new Map<string, { data: Buffer; updatedMs: number; generation: number }>();
  #generation = 0;
  readonly ops = { list: 0, get: 0, put: 0, createOnly: 0, delete: 0, copy: 0, listedObjects: 0, bytesRead: 0 };
  /** Added to every request (ms). */
  latencyMs = 0;
  #sorted: string[] = [];
  #dirty = false;

  resetCounters(): void {
    for (const k of Object.keys(this.ops) as Array<keyof typeof this.ops>) this.ops[k] = 0;
  }

  async createOnly(key: string, data: Uint8Array | string): Promise<void> {
    this.ops.createOnly++;
    await this.#wait();
    if (this.objects.has(key)) throw new HourglassError('HG_STORAGE_EXISTS', `${key} exists`);
    this.#set(key, data);
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    this.ops.put++;
    await this.#wait();
    this.#set(key, data);
  }

  async get(key: string): Promise<Buffer> {
    this.ops.get++;
    await this.#wait();
    const o = this.objects.get(key);
    if (!o) throw new HourglassError('HG_STORAGE_NOT_FOUND', `${key} not found`);
    this.ops.bytesRead += o.data.length;
    return o.data;
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    return (await this.get(key)).subarray(start, end);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const o = this.objects.get(key);
    return o ? { key, size: o.data.length, updatedMs: o.updatedMs, version: String(o.generation) } : undefined;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.ops.list++;
    await this.#wait();
    if (this.#dirty) {
      this.#sorted = [...this.objects.keys()].sort();
      this.#dirty = false;
    }
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#sorted[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: ObjectInfo[] = [];
    for (let i = lo; i < this.#sorted.length && this.#sorted[i]!.startsWith(prefix); i++) {
      const key = this.#sorted[i]!;
      const o = this.objects.get(key)!;
      out.push({ key, size: o.data.length, updatedMs: o.updatedMs, version: String(o.generation) });
    }
    this.ops.listedObjects += out.length;
    return out;
  }

  async copy(from: string, to: string): Promise<void> {
    this.ops.copy++;
    this.#set(to, this.objects.get(from)!.data);
  }

  async delete(key: string): Promise<void> {
    this.ops.delete++;
    if (this.objects.delete(key)) this.#dirty = true;
  }

  async close(): Promise<void> {}

  #wait(): Promise<void> | undefined {
    return this.latencyMs > 0 ? new Promise((r) => setTimeout(r, this.latencyMs)) : undefined;
  }

  #set(key: string, data: Uint8Array | string): void {
    if (!this.objects.has(key)) this.#dirty = true;
    this.objects.set(key, { data: Buffer.from(data), updatedMs: Date.now(), generation: ++this.#generation });
  }
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const T = options.types ?? 500;
  const P = options.publishers ?? 1000;
  const K = Math.min(options.typesPerPublisher ?? 20, T);
  const F = options.files ?? 100;
  const M = options.messagesPerFile ?? 20;
  const rounds = options.rounds ?? 5;

  const schemasDir = await mkdtemp(path.join(os.tmpdir(), 'hg-sim-schemas-'));
  try {
    const schema = await readFile(path.join(DEFAULT_SCHEMAS_DIR, 'search_performed', 'v1.avsc'), 'utf8');
    const config = JSON.stringify({ description: 'simulated type', owner: 'sim@example.com', tier: 'normal', livenessTimeoutS: 30, maxWaitS: 600 });
    const typeNames = Array.from({ length: T }, (_, i) => `sim_type_${String(i).padStart(4, '0')}`);
    for (const name of typeNames) {
      await mkdir(path.join(schemasDir, name));
      await writeFile(path.join(schemasDir, name, 'v1.avsc'), schema);
      await writeFile(path.join(schemasDir, name, 'type.json'), config);
    }
    const registry = await Registry.load(schemasDir);

    // Mid-hour: every type has one open window.
    const nowUs = Math.floor(Date.now() / 3_600_000) * 3_600_000_000 + 30 * 60 * 1_000_000;
    const window = windowOf(nowUs, WINDOW_S);
    const storage = new CountingMemoryStorage();
    const publishersOf = new Map<string, string[]>(typeNames.map((t) => [t, []]));
    const views: PublisherView[] = [];
    for (let p = 0; p < P; p++) {
      const id = `gateway-${String(p).padStart(5, '0')}-0123456789abcdef`;
      const types: Record<string, { nextSeq: number; ackedBelow: number }> = {};
      for (let k = 0; k < K; k++) {
        const type = typeNames[(p * 7 + k * 13) % T]!;
        if (types[type]) continue;
        types[type] = { nextSeq: 1_000_000, ackedBelow: 999_000 };
        publishersOf.get(type)!.push(id);
      }
      views.push({ id, startedUs: nowUs - 86_400_000_000, heartbeat: { timeUs: nowUs, final: false, types }, lastSeenMs: nowUs / 1000 });
    }
    // Another replica's snapshot (format of heartbeat-table.ts), saved now, having read the control topic to now.
    await storage.put('checker/heartbeats/sim-other.json', JSON.stringify({ savedMs: nowUs / 1000, controlMs: nowUs / 1000, publishers: views }));
    let coverageBytes = 0;
    for (const type of typeNames) {
      const pubs = publishersOf.get(type)!;
      const coverage = Object.fromEntries(pubs.map((id) => [id, [{ from: 0, to: 900_000, firstWindow: window - 24, lastWindow: window - 1 }]]));
      const json = JSON.stringify(coverage);
      coverageBytes += json.length;
      await storage.put(`checker/coverage/${type}/sim-other.json`, json);
      const dir = layout.staging({ type, index: window, lengthS: WINDOW_S });
      for (let f = 0; f < F; f++) {
        const messages = Array.from({ length: M }, (_, m) => {
          const publisher = pubs[(f * M + m) % Math.max(1, pubs.length)] ?? 'nobody';
          return { publisher, firstSeq: 900_000 + f * 1000 + m * 10, count: 10, offset: 0, length: 100, clientIds: false, minReceiveUs: nowUs, maxReceiveUs: nowUs, messageId: `${f}-${m}` };
        });
        const manifest: StagingManifest = {
          format: STAGING_MANIFEST_FORMAT,
          type,
          window,
          windowS: WINDOW_S,
          version: 1,
          codec: 'deflate',
          file: `${dir}worker-${f}.avro`,
          bytes: 1000,
          sha256: '0'.repeat(64),
          events: M * 10,
          minReceiveUs: nowUs,
          maxReceiveUs: nowUs,
          writtenAtUs: nowUs,
          worker: 'sim',
          messages,
        };
        await storage.put(`${dir}worker-${f}.manifest.json`, JSON.stringify(manifest));
      }
    }

    // The simulated staged files are manifests only: no segment may be cut from them (compaction is close.bench's).
    const simChecker = (over: { shareTypes: boolean; typesInParallel?: number }) =>
      new Checker({
        registry,
        storage,
        options: resolveCheckerOptions({}, { location: storage.location, windowS: WINDOW_S, checkerId: 'sim', tickMs: 500, segmentFiles: Number.MAX_SAFE_INTEGER, ...over }),
        clock: { nowUs: () => nowUs },
      });
    // One replica closing every type (the snapshot above stands for the control topic's reader, not a replica sharing the types).
    const checker = simChecker({ shareTypes: false });
    const measure = async (c: Checker) => {
      await c.tick(); // first round: parses and caches every staged manifest
      const cpuMs: number[] = [];
      const wallMs: number[] = [];
      let ops = { ...storage.ops };
      for (let r = 0; r < rounds; r++) {
        storage.resetCounters();
        const cpu = process.cpuUsage();
        const wall = performance.now();
        await c.tick();
        const used = process.cpuUsage(cpu);
        cpuMs.push((used.user + used.system) / 1000);
        wallMs.push(performance.now() - wall);
        ops = { ...storage.ops };
      }
      if (c.errors.length > 0) throw new Error(`checker round failed: ${c.errors[0]}`);
      return { cpuMs, wallMs, ops };
    };
    const { cpuMs, wallMs, ops } = await measure(checker);
    // One of 3 replicas sharing the types: the two others (sim-other above and sim-peer) are live by their fresh snapshots (saved "now" on the fixed clock).
    for (const peer of ['sim-peer']) await storage.put(`checker/heartbeats/${peer}.json`, JSON.stringify({ savedMs: nowUs / 1000, controlMs: nowUs / 1000, publishers: [] }));
    const sharing = simChecker({ shareTypes: true });
    const shared = await measure(sharing);
    const ownedOf3 = sharing.ownership().owned.length;
    // One round with request latency: the default types at a time (64), each awaiting its requests one after another;
    // then one by a checker working on NARROW types at a time (HOURGLASS_CHECKER_TYPES_IN_PARALLEL, the default before 64).
    const latencyMs = options.requestLatencyMs ?? 20;
    storage.latencyMs = latencyMs;
    const slowWall = performance.now();
    await checker.tick();
    const slowRoundMs = performance.now() - slowWall;
    const narrow = simChecker({ shareTypes: false, typesInParallel: NARROW });
    storage.latencyMs = 0;
    await narrow.tick(); // its first round parses every staged manifest
    storage.latencyMs = latencyMs;
    const narrowWall = performance.now();
    await narrow.tick();
    const narrowRoundMs = performance.now() - narrowWall;
    storage.latencyMs = 0;
    if (narrow.errors.length > 0) throw new Error(`checker round failed: ${narrow.errors[0]}`);

    // The close rule alone at the hour's end: every type, every live publisher, heartbeats past the end.
    const endUs = windowStartUs(window + 1, WINDOW_S);
    const publishers = new Map(views.map((v) => [v.id, { ...v, heartbeat: { ...v.heartbeat!, timeUs: endUs + 1 } }]));
    const coverageByType = new Map<string, Map<string, WindowedRuns>>();
    for (const type of typeNames) {
      coverageByType.set(type, new Map(publishersOf.get(type)!.map((id) => [id, WindowedRuns.of([{ from: 0, to: 1_000_000, firstWindow: window - 24, lastWindow: window }])])));
    }
    const decideCpu = process.cpuUsage();
    let proofs = 0;
    let closable = 0;
    for (const type of typeNames) {
      const decision = decideClose({
        type,
        window,
        windowS: WINDOW_S,
        nowMs: endUs / 1000 + 1000,
        livenessTimeoutMs: 30_000,
        maxWaitMs: 600_000,
        publishers,
        controlReadToMs: endUs / 1000 + 1000,
        discoveryMarginMs: 1000,
        coverage: coverageByType.get(type)!,
        seenInWindow: new Set(publishersOf.get(type)!),
      });
      if (decision.kind === 'close') {
        closable++;
        proofs += decision.proofs.length;
      }
    }
    const decideUsed = process.cpuUsage(decideCpu);
    const heartbeatBytes = storage.objects.get('checker/heartbeats/sim-other.json')!.data.length;
    const label = `${T} types, ${P} publishers × ${K} types, ${F} staged files/type`;
    return [
      { name: 'checker_sim_round_cpu_ms', value: Math.round(median(cpuMs)), unit: `CPU ms per round, every hour open (${label}; median of ${cpuMs.length} rounds)` },
      { name: 'checker_sim_round_cpu_ms_1_of_3', value: Math.round(median(shared.cpuMs)), unit: `CPU ms per round of one of 3 replicas sharing the types (it owns ${ownedOf3} of ${T}; median of ${shared.cpuMs.length} rounds)` },
      { name: 'checker_sim_lists_per_round_1_of_3', value: shared.ops.list, unit: 'bucket list requests per round, one of 3 replicas' },
      { name: 'checker_sim_gets_per_round_1_of_3', value: shared.ops.get, unit: 'bucket reads per round, one of 3 replicas' },
      { name: 'checker_sim_round_wall_ms', value: Math.round(median(wallMs)), unit: `ms wall per round (in-memory bucket: no request latency; median of ${wallMs.length} rounds)` },
      { name: 'checker_sim_round_wall_ms_with_latency', value: Math.round(slowRoundMs), unit: `ms wall per round with ${latencyMs} ms per bucket request (${resolveCheckerOptions({}).typesInParallel} types at a time, the default; a type awaits its requests one after another)` },
      { name: 'checker_sim_round_wall_ms_with_latency_8', value: Math.round(narrowRoundMs), unit: `ms wall per round, same latency, ${NARROW} types at a time (HOURGLASS_CHECKER_TYPES_IN_PARALLEL=${NARROW}, the default before 64)` },
      { name: 'checker_sim_lists_per_round', value: ops.list, unit: 'bucket list requests per round' },
      { name: 'checker_sim_listed_objects_per_round', value: ops.listedObjects, unit: 'objects returned by those lists (GCS pages hold 1000)' },
      { name: 'checker_sim_gets_per_round', value: ops.get, unit: 'bucket reads per round (staged manifests are cached after the first)' },
      { name: 'checker_sim_puts_per_round', value: ops.put + ops.createOnly, unit: 'bucket writes per round' },
      { name: 'checker_sim_bytes_read_per_round', value: ops.bytesRead, unit: 'bytes read per round' },
      { name: 'checker_sim_heartbeat_state_bytes', value: heartbeatBytes, unit: `bytes of one heartbeat snapshot (${P} publishers; a replica reads each snapshot when its generation changed)` },
      { name: 'checker_sim_coverage_bytes', value: coverageBytes, unit: `bytes of coverage files over ${T} types` },
      { name: 'checker_sim_decide_cpu_ms', value: Math.round((decideUsed.user + decideUsed.system) / 1000), unit: `CPU ms of the close rule for ${T} types at the hour's end (${closable} closable)` },
      { name: 'checker_sim_manifest_publishers', value: closable > 0 ? Math.round(proofs / closable) : 0, unit: `publishers named per closed manifest (publishing the type: ~${Math.round((P * K) / T)})` },
    ];
  } finally {
    await rm(schemasDir, { recursive: true, force: true });
  }
}

export const QUICK: BenchOptions = { types: 100, publishers: 200 };

if (import.meta.main) {
  const args = process.argv.slice(2);
  const num = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const base: BenchOptions = args.includes('--quick') ? QUICK : {};
  const over = Object.fromEntries(
    ([['types', '--types'], ['publishers', '--publishers'], ['files', '--files'], ['typesPerPublisher', '--types-per-publisher']] as const)
      .map(([k, f]) => [k, num(f)])
      .filter(([, v]) => v !== undefined),
  ) as BenchOptions;
  await runStandalone(() => run({ ...base, ...over }), args.includes('--json'));
}
