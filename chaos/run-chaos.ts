// The chaos suite: the whole local pipeline as processes, faults injected at random from a seed, then an audit by an independent reader.
//
// Run: bash scripts/chaos.sh [--seed N] [--duration-s S] [--window-s W] [--json] [--keep] …   (npm run chaos -- …)
//      node chaos/run-chaos.ts --help   lists every flag.
//
// What runs: the Pub/Sub emulator behind loopback TCP proxies the suite can cut (one for publishers and
// the gateway, one for workers and checkers, whose streaming pulls are only ever held, not reset: the
// emulator loses messages when streaming-pull connections are reset, see emulator-redelivery.ts); SDK publisher
// processes (chaos/publisher.ts) over every type; the gateway, fed by a client in this process that
// retries failed requests with the same event ids; two or more workers; one or two checkers. Every
// part is a real process (`node services/<part>/main.ts`) configured by environment, as deployed.
// What goes wrong (chaos/fault-plan.ts, from the seed): SIGKILL and restart of workers, checkers,
// publishers and the gateway; Pub/Sub unreachable (refused, or held without a byte passing);
// a worker's storage writes failing (chaos/storage-fault.ts); duplicate deliveries; malformed
// messages; a publisher with a skewed clock. Throughout, 2% of checker 0's storage writes fail, half
// of them after landing (services/storage/faulty-storage.ts; --checker-storage-faults 0 turns it off). Then the pipeline is healed, publishers stop cleanly, and
// once nothing is left in staging (or a deadline passes) chaos/audit.py reads the bucket with fastavro
// and checks every promise against what the publishers and the gateway client saw resolve.
// Exit code: 0 every promise kept, 1 a promise broken (the report says which), 2 the suite itself failed.
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { startLocalStack, type LocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { topicNames, type TopicNames } from '../services/wire/topics.ts';
import { ensurePythonVenv } from '../test/helpers/python.ts';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.ts';
import { describeFault, FAULT_KINDS, planFaults, prng, type Fault, type FaultKind } from './fault-plan.ts';
import { GatewayClient, sendDuplicates, sendMalformed, Tap } from './injectors.ts';
import { REPO_ROOT, startProcess, type RunningProcess } from './processes.ts';
import { makeWorkerView, type WorkerView } from './storage-fault.ts';

const USAGE = `usage: node chaos/run-chaos.ts [--seed N] [--duration-s S] [--window-s W] [--publishers N] [--workers N] [--checkers N]
       [--rate EVENTS_PER_S_PER_PUBLISHER] [--gateway-batch N] [--liveness-ms MS] [--max-wait-ms MS] [--skew-s S]
       [--settle-s S] [--faults kind,kind…] [--subscriber-cut refuse|blackhole] [--checker-storage-faults RATE]
       [--dir PATH] [--keep] [--json]`;

interface ChaosOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly windowS: number;
  readonly publishers: number;
  readonly workers: number;
  readonly checkers: number;
  readonly rate: number;
  readonly gatewayBatch: number;
  readonly livenessMs: number;
  readonly maxWaitMs: number;
  readonly skewS: number | undefined;
  /** Longest wait after the run for staging to empty (s). */
  readonly settleS: number;
  readonly dir: string | undefined;
  /** Only these fault kinds (to narrow a failure down); default every kind. */
  readonly faults: readonly FaultKind[] | undefined;
  /**
   * How a Pub/Sub cut treats the workers' and checkers' streaming pulls. Default: 'blackhole' (held,
   * as in a partition) even when publishers are refused: resetting streaming-pull connections makes
   * the emulator itself lose messages (chaos/emulator-redelivery.ts shows it with no hourglass code).
   */
  readonly subscriberCut: 'refuse' | 'blackhole' | undefined;
  /** Share of checker 0's storage writes that fail, before or after landing (HOURGLASS_FAULTS_STORAGE_FAIL_RATE); 0 = none. */
  readonly checkerStorageFaults: number;
  readonly keep: boolean;
  readonly json: boolean;
}

function parseOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      'duration-s': { type: 'string' },
      'window-s': { type: 'string' },
      publishers: { type: 'string' },
      workers: { type: 'string' },
      checkers: { type: 'string' },
      rate: { type: 'string' },
      'gateway-batch': { type: 'string' },
      'liveness-ms': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'skew-s': { type: 'string' },
      'settle-s': { type: 'string' },
      faults: { type: 'string' },
      'subscriber-cut': { type: 'string' },
      'checker-storage-faults': { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number, integer = true): number => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}\n${USAGE}`);
    return v;
  };
  const windowS = num('window-s', values['window-s'], 5, 1, 3600);
  if (86_400 % windowS !== 0) throw new Error(`--window-s must divide a day\n${USAGE}`);
  return {
    seed: num('seed', values.seed, Math.floor(Math.random() * 1e9), 0, 2 ** 32 - 1),
    durationS: num('duration-s', values['duration-s'], 120, 10, 3600),
    windowS,
    publishers: num('publishers', values.publishers, 3, 1, 16),
    workers: num('workers', values.workers, 2, 1, 8),
    checkers: num('checkers', values.checkers, 2, 1, 4),
    checkerStorageFaults: num('checker-storage-faults', values['checker-storage-faults'], 0.02, 0, 1, false),
    rate: num('rate', values.rate, 300, 1, 100_000),
    gatewayBatch: num('gateway-batch', values['gateway-batch'], 20, 1, 1000),
    livenessMs: num('liveness-ms', values['liveness-ms'], 5000, 500, 600_000),
    maxWaitMs: num('max-wait-ms', values['max-wait-ms'], 60_000, 1000, 3_600_000),
    skewS: values['skew-s'] === undefined ? undefined : num('skew-s', values['skew-s'], 0, -86_400, 86_400, false),
    settleS: num('settle-s', values['settle-s'], 180, 10, 3600),
    dir: values.dir,
    faults: values.faults === undefined ? undefined : parseKinds(values.faults),
    subscriberCut: parseCutMode(values['subscriber-cut']),
    keep: values.keep ?? false,
    json: values.json ?? false,
  };
}

/** What chaos/audit.py prints (the fields the report uses). */
export interface AuditReport {
  readonly published_resolved: number;
  readonly published_sdk: number;
  readonly published_gateway: number;
  readonly delivered_closed: number;
  readonly late: number;
  readonly dead_lettered: number;
  readonly dead_letter_reasons: Record<string, number>;
  readonly malformed_sent: number;
  readonly duplicates_removed: number;
  readonly gateway_client_retries_across_windows: number;
  readonly duplicates_found: number;
  readonly lost: number;
  readonly lost_in_transport: number;
  readonly windows_closed: number;
  readonly windows_complete: number;
  readonly windows_incomplete: ReadonlyArray<Record<string, unknown>>;
  readonly lost_reported_by_manifests: number;
  readonly abandoned_reported_by_manifests: number;
  readonly close_delay_s: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  readonly staging_left: number;
  readonly broken: Readonly<Record<string, readonly string[]>>;
}

function parseCutMode(raw: string | undefined): 'refuse' | 'blackhole' | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'refuse' && raw !== 'blackhole') throw new Error(`--subscriber-cut must be refuse or blackhole\n${USAGE}`);
  return raw;
}

function parseKinds(raw: string): FaultKind[] {
  const kinds = raw.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!FAULT_KINDS.includes(k as FaultKind)) throw new Error(`--faults: unknown kind ${JSON.stringify(k)} (kinds: ${FAULT_KINDS.join(', ')})\n${USAGE}`);
  return kinds as FaultKind[];
}

/** Prints progress on stderr, stamped with seconds since the start. */
const t0 = Date.now();
const say = (msg: string) => process.stderr.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

interface Slot {
  proc: RunningProcess | undefined;
  generation: number;
}

async function main(): Promise<number> {
  let o: ChaosOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const runDir = o.dir ? path.resolve(o.dir) : await mkdtemp(path.join(os.tmpdir(), 'hg-chaos-'));
  const bucket = path.join(runDir, 'bucket');
  const logs = path.join(runDir, 'logs');
  const records = path.join(runDir, 'resolved.jsonl');
  const malformedFile = path.join(runDir, 'malformed.jsonl');
  await mkdir(bucket, { recursive: true });
  await mkdir(logs, { recursive: true });
  await writeFile(records, '');
  await writeFile(malformedFile, '');
  say(`seed ${o.seed}, ${o.durationS} s, ${o.windowS}-s windows, ${o.publishers} publishers, ${o.workers} workers, ${o.checkers} checkers; run folder ${runDir}`);

  const registry = await Registry.load();
  const types = registry.names();
  const names = topicNames();
  const random = prng(o.seed ^ 0x5eed);
  const faults = planFaults(o.seed, { durationS: o.durationS, windowS: o.windowS, workers: o.workers, checkers: o.checkers, publishers: o.publishers, skewOffsetS: o.skewS })
    .filter((f) => o.faults === undefined || o.faults.includes(f.kind));
  for (const f of faults) say(`planned: ${describeFault(f)}`);

  let stack: LocalStack | undefined;
  let proxy: TcpProxy | undefined;
  let subscriberProxy: TcpProxy | undefined;
  let tap: Tap | undefined;
  // The gateway checks a named token, so its client's event ids are scoped by that name (the audit checks the scope).
  const gatewayAuth = { client: 'chaos-app', token: `chaos_gateway_token_${o.seed}` };
  const gatewayClient = new GatewayClient(records, types.filter((t) => t !== 'track_played'), gatewayAuth);
  const workers: Slot[] = Array.from({ length: o.workers }, () => ({ proc: undefined, generation: 0 }));
  const checkers: Slot[] = Array.from({ length: o.checkers }, () => ({ proc: undefined, generation: 0 }));
  const publishers: Slot[] = Array.from({ length: o.publishers }, () => ({ proc: undefined, generation: 0 }));
  const gateway: Slot = { proc: undefined, generation: 0 };
  const skewed: RunningProcess[] = [];
  const injected = new Map<string, number>();
  const count = (kind: string, n = 1) => injected.set(kind, (injected.get(kind) ?? 0) + n);
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>) => {
    const t = p.catch((err: unknown) => say(`fault handling failed: ${(err as Error).message}`)).finally(() => pending.delete(t));
    pending.add(t);
    return t;
  };
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
  let views: WorkerView[] = [];
  const storageFaults = new Map<number, number>();
  let cuts = 0;
  let exitCode: number;
  let witness: { stop(): Promise<void> } | undefined;
  let auditOut: AuditReport | undefined;

  try {
    stack = await startLocalStack({ registry, ackDeadlineS: 10, logDir: logs });
    proxy = await startTcpProxy(stack.pubsub.host);
    subscriberProxy = await startTcpProxy(stack.pubsub.host);
    tap = await Tap.open(stack.client, names, types, 300, path.join(runDir, 'tapped.jsonl'));
    witness = startStagingWitness(bucket, path.join(runDir, 'staged-manifests'));
    // Publishers and the gateway reach Pub/Sub through one proxy, workers and checkers (streaming pull) through another.
    const env = {
      PUBSUB_EMULATOR_HOST: proxy.address,
      HOURGLASS_PROJECT: stack.pubsub.projectId,
      HOURGLASS_WINDOW_S: String(o.windowS),
      HOURGLASS_MODE: 'local',
    };
    const subscriberEnv = { ...env, PUBSUB_EMULATOR_HOST: subscriberProxy.address };
    views = await Promise.all(workers.map((_, i) => makeWorkerView(bucket, path.join(runDir, `worker-view-${i}`))));

    const startWorker = async (i: number) => {
      const slot = workers[i]!;
      // A worker cannot open its storage during an outage (it exits): wait for the outage to end, and
      // start again if one began while it was starting.
      for (let attempt = 0; ; attempt++) {
        while (views[i]!.failing) await sleep(0.2);
        const p = startProcess(`worker-${i}.${slot.generation++}`, 'services/worker/main.ts', [], { ...subscriberEnv, HOURGLASS_BUCKET: views[i]!.location, HOURGLASS_WORKER_ID: `chaos-w${i}-g${slot.generation}` }, logs);
        slot.proc = p;
        try {
          await p.line((l) => l.event === 'worker_started');
          return;
        } catch (err) {
          if (attempt >= 5) throw err;
          say(`worker ${i} did not start (${(err as Error).message}); starting it again`);
        }
      }
    };
    const startChecker = async (i: number) => {
      const slot = checkers[i]!;
      const p = startProcess(`checker-${i}.${slot.generation++}`, 'services/checker/main.ts', [], {
        ...subscriberEnv,
        HOURGLASS_BUCKET: `file://${bucket}`,
        HOURGLASS_CHECKER_ID: `chaos-checker-${i}`,
        HOURGLASS_LIVENESS_MS: String(o.livenessMs),
        HOURGLASS_MAX_WAIT_MS: String(o.maxWaitMs),
        HOURGLASS_CHECKER_TICK_MS: '300',
        // Small segments, so incremental compaction runs (and is killed) too.
        HOURGLASS_SEGMENT_BYTES: String(64 * 1024),
        // Checker 0's writes fail now and then, some after they landed: every step must be redone safely.
        ...(i === 0 && o.checkerStorageFaults > 0 ? { HOURGLASS_FAULTS_STORAGE_FAIL_RATE: String(o.checkerStorageFaults), HOURGLASS_FAULTS_STORAGE_FAIL_MODE: 'mixed' } : {}),
      }, logs);
      slot.proc = p;
      await p.line((l) => l.msg === 'checker started' || l.event === 'checker_started');
    };
    const startGateway = async () => {
      gatewayClient.url = undefined;
      const p = startProcess(`gateway.${gateway.generation++}`, 'services/gateway/main.ts', [], { ...env, HOURGLASS_PORT: '0', HOURGLASS_HOST: '127.0.0.1', HOURGLASS_GATEWAY_TOKENS: `${gatewayAuth.client}:${gatewayAuth.token}` }, logs);
      gateway.proc = p;
      const l = await p.line((x) => (x.message === 'gateway listening' || x.msg === 'gateway listening' || x.event === 'gateway_listening') && typeof x.url === 'string');
      gatewayClient.url = l.url as string;
    };
    const startPublisher = async (i: number, offsetS = 0, stopAfterS = o.durationS + 600): Promise<RunningProcess> => {
      const slot = publishers[i];
      const name = offsetS === 0 ? `publisher-${i}.${slot!.generation++}` : `publisher-skewed-${skewed.length}`;
      const p = startProcess(name, 'chaos/publisher.ts', [records, types.join(','), String(o.rate), String(o.windowS), String(offsetS), String(stopAfterS)], env, logs);
      if (offsetS === 0) slot!.proc = p;
      const ready = await p.line((l) => l.ready === true);
      say(`${name} is ${String(ready.publisher)}`);
      return p;
    };

    await Promise.all([...workers.map((_, i) => startWorker(i)), ...checkers.map((_, i) => startChecker(i)), startGateway()]);
    await Promise.all(publishers.map((_, i) => startPublisher(i)));
    say('pipeline running; faults begin');
    const runStart = Date.now();

    const malformedSerial = { n: 0 };
    const apply = async (f: Fault) => {
      say(`fault: ${describeFault(f)}`);
      switch (f.kind) {
        case 'kill-worker':
        case 'kill-checker':
        case 'kill-publisher': {
          const slots = f.kind === 'kill-worker' ? workers : f.kind === 'kill-checker' ? checkers : publishers;
          const slot = slots[f.target!]!;
          if (!slot.proc?.isRunning()) return say(`  skipped: ${f.kind} #${f.target} is not running`);
          count(f.kind);
          await slot.proc.kill();
          await sleep(f.restartAfterS!);
          if (f.kind === 'kill-worker') await startWorker(f.target!);
          else if (f.kind === 'kill-checker') await startChecker(f.target!);
          else await startPublisher(f.target!);
          return;
        }
        case 'kill-gateway':
          if (!gateway.proc?.isRunning()) return say('  skipped: the gateway is not running');
          count(f.kind);
          gatewayClient.url = undefined;
          await gateway.proc.kill();
          await sleep(f.restartAfterS!);
          await startGateway();
          return;
        case 'pubsub-cut':
          count(`pubsub-cut (${f.mode})`);
          cuts++;
          proxy!.cut(f.mode);
          subscriberProxy!.cut(o.subscriberCut ?? 'blackhole');
          await sleep(f.durationS!);
          if (--cuts === 0) {
            proxy!.restore();
            subscriberProxy!.restore();
          }
          return;
        case 'storage-fail': {
          count(f.kind);
          const i = f.target!;
          storageFaults.set(i, (storageFaults.get(i) ?? 0) + 1);
          await views[i]!.fail();
          await sleep(f.durationS!);
          const left = storageFaults.get(i)! - 1;
          storageFaults.set(i, left);
          if (left === 0) await views[i]!.heal();
          return;
        }
        case 'duplicates':
          count('duplicate messages', await sendDuplicates(stack!.client, names, tap!, types, f.count!, random));
          return;
        case 'malformed':
          count('malformed messages', await sendMalformed(stack!.client, names, tap!, types, o.windowS, f.count!, random, malformedFile, malformedSerial));
          return;
        case 'skewed-publisher': {
          count(`skewed publisher (${f.skewOffsetS! >= 0 ? '+' : ''}${f.skewOffsetS}s)`);
          skewed.push(await startPublisher(0, f.skewOffsetS!, f.durationS!));
          return;
        }
      }
    };
    const timers = faults.map((f) => setTimeout(() => void track(apply(f)), f.atS * 1000));
    const runId = o.seed.toString(36);
    const gatewayTimer = setInterval(() => gatewayClient.tick(o.gatewayBatch, runId), 200);
    await sleep(o.durationS);
    for (const t of timers) clearTimeout(t);
    clearInterval(gatewayTimer);
    say(`run over after ${((Date.now() - runStart) / 1000).toFixed(0)} s; waiting for faults in progress to end`);
    while (pending.size > 0) await Promise.allSettled([...pending]);

    // Heal, stop the load cleanly, and let the pipeline finish.
    proxy.restore();
    subscriberProxy.restore();
    for (const v of views) await v.heal();
    for (const [i, slot] of workers.entries()) if (!slot.proc?.isRunning()) await startWorker(i);
    for (const [i, slot] of checkers.entries()) if (!slot.proc?.isRunning()) await startChecker(i);
    if (!gateway.proc?.isRunning()) await startGateway();
    say('healed; stopping publishers (final heartbeats) and draining the gateway client');
    await Promise.all([...publishers.map((s) => s.proc?.stop(90_000)), ...skewed.map((p) => p.stop(90_000))]);
    await gatewayClient.drain(Date.now() + 60_000);
    await gateway.proc?.stop(30_000);
    gatewayClient.close();
    const settleDeadline = Date.now() + o.settleS * 1000;
    let left = await stagedObjects(bucket);
    while (left > 0 && Date.now() < settleDeadline) {
      await sleep(1);
      left = await stagedObjects(bucket);
    }
    say(left === 0 ? 'staging is empty: every window closed' : `staging still holds ${left} objects after ${o.settleS} s`);
    await Promise.all([...checkers, ...workers].map((s) => s.proc?.stop(30_000)));
    await tap.close();
    tap = undefined;
    await witness.stop();
    await writeFile(path.join(runDir, 'leftover.jsonl'), '');
    const leftover = await leftoverInSubscriptions(stack.client, names, types, path.join(runDir, 'leftover.jsonl'));
    if (leftover > 0) say(`${leftover} messages were still in the worker subscriptions after the workers stopped`);

    say('auditing with fastavro');
    const python = await ensurePythonVenv();
    const auditFile = path.join(runDir, 'audit.json');
    const { stdout, code } = await runAudit(python, [
      '--bucket', bucket, '--records', records, '--malformed', malformedFile, '--window-s', String(o.windowS), '--out', auditFile,
      '--tapped', path.join(runDir, 'tapped.jsonl'), '--staged', path.join(runDir, 'staged-manifests'), '--leftover', path.join(runDir, 'leftover.jsonl'),
    ]);
    auditOut = JSON.parse(stdout) as AuditReport;
    exitCode = code === 0 ? 0 : 1;
  } catch (err) {
    say(`the suite failed: ${(err as Error).stack ?? String(err)}`);
    exitCode = 2;
  } finally {
    for (const s of [...workers, ...checkers, ...publishers, gateway]) await s.proc?.kill();
    for (const p of skewed) await p.kill();
    await witness?.stop();
    await tap?.close();
    await proxy?.close();
    await subscriberProxy?.close();
    await stack?.stop();
  }

  const report = {
    seed: o.seed,
    durationS: o.durationS,
    windowS: o.windowS,
    processes: { publishers: o.publishers, workers: o.workers, checkers: o.checkers, gateway: 1 },
    faultsInjected: Object.fromEntries(injected),
    gatewayClient: { acceptedEvents: gatewayClient.accepted, failedRequests: gatewayClient.failedRequests, gaveUpEvents: gatewayClient.gaveUp },
    audit: auditOut,
    runDir,
    result: exitCode === 0 ? 'every promise kept' : exitCode === 1 ? 'BROKEN PROMISES' : 'the suite failed',
  };
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  if (exitCode === 0 && !o.keep && !o.dir) await rm(runDir, { recursive: true, force: true });
  else say(`kept ${runDir} (logs/, bucket/, resolved.jsonl, malformed.jsonl, audit.json)`);
  return exitCode;
}

/**
 * Copies every staging manifest it sees (they are small and immutable) to `into`, polling every
 * 100 ms: a record of what the workers made durable, for the audit to tell, when an event is missing,
 * whether it was ever staged. A file staged and removed between two polls can be missed.
 */
function startStagingWitness(bucket: string, into: string): { stop(): Promise<void> } {
  const copied = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    await mkdir(into, { recursive: true });
    while (!stopped) {
      const entries = await readdir(path.join(bucket, 'staging'), { recursive: true, withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile() || !e.name.endsWith('.manifest.json')) continue;
        const full = path.join(e.parentPath, e.name);
        if (copied.has(full)) continue;
        const bytes = await readFile(full).catch(() => undefined);
        if (!bytes) continue;
        copied.add(full);
        await writeFile(path.join(into, `${copied.size}-${e.name}`), bytes);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Objects under staging/ (folders kept for the storage-fault views are not objects). */
async function stagedObjects(bucket: string): Promise<number> {
  // A checker removing folders while we walk makes readdir fail now and then: try again, never call that "empty".
  for (let attempt = 0; ; attempt++) {
    try {
      const entries = await readdir(path.join(bucket, 'staging'), { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt > 20) return 0;
      if (attempt > 50) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * After the workers stopped: what is still in the worker subscriptions (delivered to nobody, or
 * never acknowledged)? Pulled for a few seconds with a fresh client straight from the emulator, left
 * unacknowledged, one JSON line per message. Messages here at the end were never lost by hourglass:
 * Pub/Sub still held them.
 */
async function leftoverInSubscriptions(pubsub: PubSub, names: TopicNames, types: readonly string[], file: string): Promise<number> {
  let n = 0;
  for (const type of types) {
    const sub = pubsub.subscription(names.workerSubscription(type), { flowControl: { maxMessages: 5000 } });
    sub.on('message', (m: Message) => {
      n++;
      const a = m.attributes;
      appendFileSync(file, `${JSON.stringify({ p: a.publisher, t: a.type, f: Number(a.first_seq), n: Number(a.count), id: m.id, attempt: m.deliveryAttempt })}\n`);
    });
    sub.on('error', () => undefined);
    // Until nothing came for 3 s (at most 20 s).
    const started = Date.now();
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() - quietSince < 3000 && Date.now() - started < 20_000) {
      await new Promise((r) => setTimeout(r, 250));
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      }
    }
    sub.removeAllListeners('message');
    await sub.close().catch(() => undefined);
  }
  return n;
}

async function runAudit(python: string, args: string[]): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await promisify(execFile)(python, [path.join(REPO_ROOT, 'chaos', 'audit.py'), ...args], { maxBuffer: 256 * 1024 * 1024 });
    return { stdout, code: 0 };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code === 1 && e.stdout) return { stdout: e.stdout, code: 1 };
    throw new Error(`audit failed to run: ${(err as Error).message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

function printReport(r: {
  seed: number;
  durationS: number;
  windowS: number;
  processes: Record<string, number>;
  faultsInjected: Record<string, number>;
  gatewayClient: Record<string, number>;
  audit: AuditReport | undefined;
  runDir: string;
  result: string;
}): void {
  const a = r.audit;
  const lines = [
    `chaos report — seed ${r.seed}, ${r.durationS} s, ${r.windowS}-s windows, ${Object.entries(r.processes).map(([k, v]) => `${v} ${k}`).join(', ')}`,
    `faults injected:       ${Object.entries(r.faultsInjected).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`,
  ];
  if (a) {
    const d = a.close_delay_s;
    lines.push(
      `events published:     ${a.published_resolved} resolved (SDK ${a.published_sdk}, gateway ${a.published_gateway}; gateway client gave up on ${r.gatewayClient.gaveUpEvents})`,
      `delivered:            ${a.delivered_closed} in closed windows`,
      `late:                 ${a.late}`,
      `dead-lettered:        ${a.dead_lettered} messages (${a.malformed_sent} malformed sent) ${JSON.stringify(a.dead_letter_reasons)}`,
      `duplicates removed:   ${a.duplicates_removed} at close; gateway client retries kept in other windows: ${a.gateway_client_retries_across_windows}`,
      `windows closed:       ${a.windows_closed} (${a.windows_complete} complete, ${(a.windows_incomplete as unknown[]).length} incomplete); left in staging: ${a.staging_left}`,
      `close delay:          p50 ${fmt(d.p50)} s, p99 ${fmt(d.p99)} s, max ${fmt(d.max)} s`,
      `manifests report:     ${a.lost_reported_by_manifests} lost, ${a.abandoned_reported_by_manifests} abandoned`,
      `lost (resolved, nowhere): ${a.lost}; lost in transport (Pub/Sub never delivered them to a worker): ${a.lost_in_transport}; duplicates found: ${a.duplicates_found}`,
    );
    const broken = a.broken;
    if (Object.keys(broken).length === 0) lines.push('broken promises:      none');
    else for (const [kind, msgs] of Object.entries(broken)) lines.push(`BROKEN ${kind}:`, ...msgs.slice(0, 10).map((m) => `  - ${m}`));
  }
  lines.push(`result: ${r.result}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : v.toFixed(1);
}

process.exit(await main());
