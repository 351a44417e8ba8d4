// One loaded run of the table benchmark: the pipeline as processes (with or without the table committer), N consecutive fully loaded windows, each window's end to its _SUCCESS (every type) and to its table snapshot (track_played); then the Avro audit and, with the committer, the table audit.
//
// The run's end, in an order that leaves nothing in flight: publishers stop; the closed manifests claim
// every acknowledged event; the checker stops gracefully (its last announcements go out) and the worker
// with it; the closed windows are listed once more (now final); the committer gets until every one of
// track_played's is committed, then stops. So "every closed window committed exactly once" is about a
// list that can no longer grow.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { windowEndUs, windowOf, windowStartUs } from '../../services/wire/window.ts';
import { auditClosed, listClosedWindows, waitForClosedClaims, type Acknowledged, type ClosedAudit } from '../kit/closed-audit.ts';
import { cpuSeconds, groupCpuSeconds } from '../kit/child-process.ts';
import { finalOf, MIX_TYPES } from '../kit/publisher-process.ts';
import { openTablePipeline } from './pipeline.ts';
import { auditTable, type TableAudit } from './table-audit.ts';

export const TABLE_TYPE = 'track_played';

export interface LoadedRunParams {
  readonly stack: LocalStack;
  /** The registry of `schemasDir`. */
  readonly registry: Registry;
  /** A schemas folder where track_played opts in. */
  readonly schemasDir: string;
  readonly windowS: number;
  /** Consecutive fully loaded windows to measure. */
  readonly windows: number;
  /** Total track_played events/s the publishers aim at (plus 2% each of two more types). */
  readonly rateEps: number;
  readonly publishers: number;
  /** The running Iceberg REST catalog: its CPU is counted in both runs. */
  readonly catalog: { readonly uri: string; readonly pid: number };
  /** Run the table committer into this namespace; without it, the baseline run. */
  readonly namespace?: string;
}

export interface CommitterRun {
  /** Measured windows of track_played: window end → the snapshot's timestamp-ms (s). */
  readonly lagsS: number[];
  /** Measured windows of track_played: _SUCCESS → the snapshot's timestamp-ms (s): the committer's part of the lag. */
  readonly afterCloseS: number[];
  /** Measured windows whose commit had not been logged MEASURE_TIMEOUT_MS after the last one ended. */
  readonly lateCommits: number;
  /** The committer's exit code when it exited before the run stopped it (a crash), else undefined. */
  readonly exitedEarly: number | null | undefined;
  readonly cores: number;
  /** Records committed per CPU-second of the committer process over the whole run. */
  readonly eventsPerCpuS: number;
  /** window_committed lines: committed, and already committed (a redelivery it recognised). */
  readonly committed: number;
  readonly alreadyCommitted: number;
  /** window_refused lines. */
  readonly refused: string[];
  /** window_commit_failed lines (retried in place, then redelivered). */
  readonly failures: string[];
  readonly audit: TableAudit;
  /** Closed windows of track_played still uncommitted COMMIT_TIMEOUT_MS after the checker stopped. */
  readonly note: string | undefined;
}

export interface LoadedRun {
  readonly windowS: number;
  readonly windows: number;
  /** Window end → _SUCCESS of every close (every type) of a measured window (s). */
  readonly closeDelaysS: number[];
  /** Closes of measured windows that had not happened MEASURE_TIMEOUT_MS after the last one ended. */
  readonly unclosed: number;
  readonly trackPlayedEventsPerWindow: number[];
  readonly loadEps: number;
  readonly failedEvents: number;
  /** Cores the catalog's JVM used during the load (idle in the baseline run). */
  readonly catalogCores: number;
  readonly audit: ClosedAudit;
  readonly note: string | undefined;
  readonly committer: CommitterRun | undefined;
}

/** How long after the last measured window's end its closes and commits may take before the run stops waiting (ms). */
export const MEASURE_TIMEOUT_MS = 180_000;
/** How long the committer gets, once the checker has stopped, to commit every closed window (ms). */
export const COMMIT_TIMEOUT_MS = 120_000;
/** The first seconds of load warm the processes up; the first measured window starts after them (ms). */
const WARMUP_MS = 2000;

export async function measureLoadedRun(o: LoadedRunParams): Promise<LoadedRun> {
  const pipeline = await openTablePipeline({
    stack: o.stack,
    registry: o.registry,
    schemasDir: o.schemasDir,
    windowS: o.windowS,
    ...(o.namespace !== undefined ? { committer: { catalogUri: o.catalog.uri, namespace: o.namespace, committerId: 'bench-table' } } : {}),
  });
  const committer = pipeline.committer;
  // By window start (ms): the committer's outcome lines.
  const committedAt = new Map<number, Record<string, unknown>>();
  let committed = 0;
  let alreadyCommitted = 0;
  const refused: string[] = [];
  const failures: string[] = [];
  let committedRecords = 0;
  let stopping = false;
  let exitedEarly: number | null | undefined;
  void committer?.exited.then((code) => {
    if (!stopping) exitedEarly = code;
  });
  committer?.onLine((l) => {
    if (l.event === 'window_committed' && l.type === TABLE_TYPE) {
      if (l.outcome === 'committed') {
        committed++;
        committedRecords += Number(l.records ?? 0);
      } else alreadyCommitted++;
      committedAt.set(Date.parse(String(l.window)), l);
    } else if (l.event === 'window_refused') refused.push(`${String(l.deadLetter)}: ${String(l.reason)}`);
    else if (l.event === 'window_commit_failed') failures.push(`${String(l.window)}: ${String(l.error)}`);
  });
  try {
    const windowMs = o.windowS * 1000;
    const startedMs = Date.now();
    const cpu0 = { committer: committer ? await cpuSeconds(committer.pid) : 0, catalog: await groupCpuSeconds(o.catalog.pid) };
    const stopAtMs = startedMs + (o.windows + 2) * windowMs + 2 * MEASURE_TIMEOUT_MS;
    const publishers = await pipeline.startPublishers(o.publishers, { mix: true, rateEps: o.rateEps / o.publishers, stopAtMs, origin: 'bench-table' });
    const finals = publishers.map(finalOf);
    for (const f of finals) f.catch(() => undefined);
    const first = windowOf((Date.now() + WARMUP_MS) * 1000 - 1, o.windowS) + 1;
    const measured = Array.from({ length: o.windows }, (_, i) => first + i);
    const lastEndMs = windowEndUs(measured.at(-1)!, o.windowS) / 1000;
    process.stderr.write(
      `table bench: ${o.windowS}-s windows at ${Math.round(o.rateEps)} events/s, ${committer ? 'with' : 'without'} the table committer, measuring ${o.windows} from ${new Date(windowStartUs(first, o.windowS) / 1000).toISOString()} to ${new Date(lastEndMs).toISOString()}\n`,
    );
    // The load runs until every measured window has closed and (with the committer) is committed, so each happens under it.
    const closes = measured.flatMap((index) => MIX_TYPES.map((type) => layout.closed({ type, index, lengthS: o.windowS }) + layout.successName));
    const commitsOf = committer ? measured.map((index) => windowStartUs(index, o.windowS) / 1000) : [];
    const deadline = lastEndMs + MEASURE_TIMEOUT_MS;
    const seen = new Set<string>();
    const allCommitted = () => commitsOf.every((ms) => committedAt.has(ms));
    while ((seen.size < closes.length || !allCommitted()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const key of closes) if (!seen.has(key) && (await pipeline.storage.stat(key))) seen.add(key);
    }
    const loadEndMs = Date.now();
    const loadS = (loadEndMs - startedMs) / 1000;
    const cpu1 = { committer: committer ? await cpuSeconds(committer.pid) : 0, catalog: await groupCpuSeconds(o.catalog.pid) };
    const lateCommits = commitsOf.filter((ms) => !committedAt.has(ms)).length;
    for (const p of publishers) await p.stop();
    const done = await Promise.all(finals);
    const acknowledged: Acknowledged[] = done.flatMap((f) => Object.entries(f.acknowledged).map(([type, events]) => ({ type, publisher: f.publisher, events })));
    const { note } = await waitForClosedClaims(pipeline.storage, acknowledged, windowMs + MEASURE_TIMEOUT_MS);
    await pipeline.checker.stop();
    await pipeline.worker.stop();
    const closed = await listClosedWindows(pipeline.storage, MIX_TYPES);
    const byIndex = new Map(closed.filter((w) => w.type === TABLE_TYPE).map((w) => [w.index, w]));

    let committerRun: CommitterRun | undefined;
    if (committer) {
      const starts = [...byIndex.values()].map((w) => Date.parse(w.manifest.windowStart));
      const commitDeadline = Date.now() + COMMIT_TIMEOUT_MS;
      while (starts.some((ms) => !committedAt.has(ms)) && Date.now() < commitDeadline) await new Promise((r) => setTimeout(r, 500));
      const open = starts.filter((ms) => !committedAt.has(ms)).map((ms) => new Date(ms).toISOString());
      const cpu2 = await cpuSeconds(committer.pid);
      stopping = true;
      await committer.stop();
      const audit = await auditTable({ catalogUri: o.catalog.uri, namespace: o.namespace!, type: TABLE_TYPE, windowS: o.windowS, closed, acknowledged });
      const measuredCommits = measured.flatMap((index) => {
        const s = audit.snapshotOf.get(index);
        const w = byIndex.get(index);
        return s && w ? [{ s, w, endMs: windowEndUs(index, o.windowS) / 1000 }] : [];
      });
      committerRun = {
        lagsS: measuredCommits.map(({ s, endMs }) => (s['timestamp-ms'] - endMs) / 1000),
        afterCloseS: measuredCommits.map(({ s, w }) => (s['timestamp-ms'] - w.successMs) / 1000),
        lateCommits,
        exitedEarly,
        cores: Math.max(0, cpu1.committer - cpu0.committer) / loadS,
        eventsPerCpuS: committedRecords / Math.max(0.01, cpu2 - cpu0.committer),
        committed,
        alreadyCommitted,
        refused,
        failures,
        audit,
        note: open.length > 0 ? `${open.length} closed windows of ${TABLE_TYPE} were not committed ${COMMIT_TIMEOUT_MS / 1000} s after the checker stopped: ${open.slice(0, 5).join(', ')}` : undefined,
      };
    }
    const audit = await auditClosed(pipeline.storage, closed, acknowledged);
    const inMeasured = closed.filter((w) => measured.includes(w.index));
    return {
      windowS: o.windowS,
      windows: o.windows,
      closeDelaysS: inMeasured.map((w) => (w.successMs - windowEndUs(w.index, o.windowS) / 1000) / 1000),
      unclosed: closes.length - seen.size,
      trackPlayedEventsPerWindow: inMeasured.filter((w) => w.type === TABLE_TYPE).map((w) => w.manifest.events),
      loadEps: done.reduce((n, f) => n + (f.acknowledged[TABLE_TYPE] ?? 0), 0) / loadS,
      failedEvents: done.reduce((n, f) => n + f.failed, 0),
      catalogCores: (cpu1.catalog - cpu0.catalog) / loadS,
      audit,
      note,
      committer: committerRun,
    };
  } finally {
    await pipeline.close();
  }
}
