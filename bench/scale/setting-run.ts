// One setting of the scale benchmark: N types, P publishers, R checker replicas as processes; consecutive loaded windows measured (close delays from the closed manifests, checker CPU and bucket requests per round), then every event audited.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import { windowEndUs, windowOf, windowStartUs } from '../../services/wire/window.ts';
import { auditClosed, listClosedWindows, waitForClosedClaims, type Acknowledged, type ClosedAudit } from '../kit/closed-audit.ts';
import { cpuSeconds, groupCpuSeconds } from '../kit/child-process.ts';
import { sampleChecker, sampleDelta, type CheckerSample } from './checker-sample.ts';
import type { FleetDone, FleetFinal } from './publisher-fleet.ts';
import { openScalePipeline } from './scale-pipeline.ts';
import type { SyntheticRegistry } from './synthetic-registry.ts';

export interface SettingParams {
  readonly stack: LocalStack;
  readonly registry: SyntheticRegistry;
  readonly windowS: number;
  /** Consecutive loaded windows measured (each closes once per type). */
  readonly windows: number;
  readonly replicas: number;
  readonly workers: number;
  readonly publishers: number;
  readonly fleetProcesses: number;
  readonly typesPerPublisher: number;
  /** Events/s of each publisher. */
  readonly publisherEps: number;
  /** The publishers' periodic heartbeat (ms); unset: the SDK's default. */
  readonly heartbeatIntervalMs?: number;
  /** Staged notices, a slot per replica (as Terraform deploys them). */
  readonly notices?: boolean;
}

export interface SettingRun {
  readonly replicas: number;
  /** closeDelayMs of every (type, measured window) closed, in s. */
  readonly delaysS: number[];
  /** proofDelayMs of the same, in s. */
  readonly proofDelaysS: number[];
  /** Measured (type, window) pairs without a closed window. */
  readonly unclosedMeasured: number;
  /** (type, window) pairs that ended before the stop, from the publishers' start on, not closed after the drain. */
  readonly unclosedEnded: number;
  readonly measuredWindows: number;
  /** Per replica over the measured span: CPU s, rounds, requests by kind. */
  readonly perReplica: CheckerSample[];
  /** Cores used over the measured span, by role. */
  readonly cores: Readonly<Record<string, number>>;
  readonly events: number;
  readonly failedEvents: number;
  readonly audit: ClosedAudit;
  readonly note: string | undefined;
  /** Wall seconds: provisioning, fleets started to every publisher registered, the whole setting; and the topics' removal. */
  readonly provisionS: number;
  readonly readyS: number;
  readonly wallS: number;
  readonly removeS: number;
}

/** The first seconds after every publisher is registered are not measured (ownership settles, processes warm up) (ms). */
const WARMUP_MS = 5000;
/** How long the closes may take after the stop before the audit counts what is missing (ms). */
const DRAIN_TIMEOUT_MS = 180_000;

const log = (s: string) => process.stderr.write(`scale bench: ${s}\n`);
const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

export async function runSetting(o: SettingParams): Promise<SettingRun> {
  const startedMs = Date.now();
  const label = `${o.registry.types.length} types, ${o.publishers} publishers, ${o.replicas} checker replica(s)`;
  const pipeline = await openScalePipeline({ stack: o.stack, registry: o.registry, windowS: o.windowS, workers: o.workers, replicas: o.replicas, notices: o.notices ?? false });
  const openedMs = Date.now();
  log(`${label}: topics provisioned in ${pipeline.provisionS.toFixed(1)} s, processes started in ${((openedMs - startedMs) / 1000 - pipeline.provisionS).toFixed(1)} s`);
  try {
    const fleets = await pipeline.startFleets(Math.min(o.fleetProcesses, o.publishers), o.publishers, {
      typesPerIdentity: o.typesPerPublisher,
      identityEps: o.publisherEps,
      ...(o.heartbeatIntervalMs ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
      stopAtMs: Date.now() + 3_600_000, // a bound: the run stops them with SIGTERM
      origin: 'bench-scale',
    });
    const readyMs = Date.now();
    const windowMs = o.windowS * 1000;
    const first = windowOf((readyMs + WARMUP_MS) * 1000 - 1, o.windowS) + 1;
    const measured = Array.from({ length: o.windows }, (_, i) => first + i);
    const measureFromMs = windowStartUs(first, o.windowS) / 1000;
    const lastEndMs = windowEndUs(measured.at(-1)!, o.windowS) / 1000;
    // The load goes on for one more window, so the measured windows close under it.
    const stopMs = lastEndMs + windowMs - 100;
    log(`${label}: ${o.publishers} publishers registered in ${((readyMs - openedMs) / 1000).toFixed(1)} s; measuring ${o.windows} windows of ${o.windowS} s from ${new Date(measureFromMs).toISOString()}, stop at ${new Date(stopMs).toISOString()}`);
    const pids = {
      emulator: () => groupCpuSeconds(o.stack.pubsub.pid),
      workers: async () => (await Promise.all(pipeline.workers.map((w) => cpuSeconds(w.pid)))).reduce((a, b) => a + b, 0),
      checkers: async () => (await Promise.all(pipeline.checkers.map((c) => cpuSeconds(c.child.pid)))).reduce((a, b) => a + b, 0),
      publishers: async () => (await Promise.all(fleets.map((f) => cpuSeconds(f.child.pid)))).reduce((a, b) => a + b, 0),
      bench: async () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      },
    };
    const cpuNow = async () => Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, f]) => [k, await f()] as const)));
    await sleepUntil(measureFromMs);
    const before = await Promise.all(pipeline.checkers.map((c) => sampleChecker(c.child.pid, c.opsUrl)));
    log(`${label}: at the measurement's start the replicas had finished ${before.map((b) => b.rounds).join(', ')} rounds`);
    const cpuBefore = await cpuNow();
    await sleepUntil(stopMs);
    const after = await Promise.all(pipeline.checkers.map((c) => sampleChecker(c.child.pid, c.opsUrl)));
    const cpuAfter = await cpuNow();
    const spanS = (Date.now() - measureFromMs) / 1000;
    log(`${label}: over ${spanS.toFixed(0)} s the replicas did ${after.map((a, r) => `${a.rounds - before[r]!.rounds} rounds in ${(a.cpuS - before[r]!.cpuS).toFixed(1)} CPU s`).join(', ')}`);
    const cores = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, (cpuAfter[k]! - cpuBefore[k]!) / spanS]));
    for (const f of fleets) process.kill(f.child.pid, 'SIGTERM');
    const finished = await Promise.all(fleets.map((f) => f.finished));
    const finals: FleetFinal[] = finished.flatMap((f) => f.finals);
    const done: FleetDone[] = finished.map((f) => f.done);
    const acknowledged: Acknowledged[] = finals.flatMap((f) => Object.entries(f.acknowledged).map(([type, events]) => ({ type, publisher: f.publisher, events })));
    const lastPublishMs = Math.max(...done.map((d) => d.lastPublishMs));
    log(`${label}: publishers stopped; ${acknowledged.reduce((n, a) => n + a.events, 0)} events acknowledged; waiting for the closes`);
    const { note } = await waitForClosedClaims(pipeline.storage, acknowledged, DRAIN_TIMEOUT_MS, { countLate: true });
    // Every window that ended before the stop, from the one the publishers started in, for every type.
    const lastEnded = windowOf(lastPublishMs * 1000, o.windowS) - 1;
    const firstLoaded = windowOf(readyMs * 1000, o.windowS);
    const windows = await listClosedWindows(pipeline.storage, o.registry.types);
    const closed = new Map(windows.map((w) => [`${w.type} ${w.index}`, w]));
    let unclosedEnded = 0;
    for (const type of o.registry.types) for (let i = firstLoaded; i <= lastEnded; i++) if (!closed.has(`${type} ${i}`)) unclosedEnded++;
    const inMeasured = measured.flatMap((i) => o.registry.types.map((t) => closed.get(`${t} ${i}`))).filter((w) => w !== undefined);
    const auditStartedMs = Date.now();
    const audit = await auditClosed(pipeline.storage, windows, acknowledged, { countLate: true });
    log(`${label}: read back ${audit.records} events (+${audit.lateEvents} late) of ${windows.length} closed windows in ${Math.round((Date.now() - auditStartedMs) / 1000)} s`);
    const result = {
      replicas: o.replicas,
      delaysS: inMeasured.map((w) => w.manifest.closeDelayMs / 1000),
      proofDelaysS: inMeasured.map((w) => (w.manifest.proofDelayMs ?? w.manifest.closeDelayMs) / 1000),
      unclosedMeasured: measured.length * o.registry.types.length - inMeasured.length,
      unclosedEnded,
      measuredWindows: measured.length,
      perReplica: before.map((b, r) => sampleDelta(b, after[r]!)),
      cores,
      events: acknowledged.reduce((n, a) => n + a.events, 0),
      failedEvents: done.reduce((n, d) => n + d.failed, 0),
      audit,
      note,
      provisionS: pipeline.provisionS,
      readyS: (readyMs - openedMs) / 1000,
      wallS: 0,
      removeS: 0,
    };
    const removeS = await pipeline.close();
    return { ...result, wallS: (Date.now() - startedMs) / 1000, removeS };
  } catch (err) {
    await pipeline.close().catch(() => undefined);
    throw err;
  }
}
