// Close delay under sustained load: the pipeline as processes, N consecutive fully loaded windows of one length, each window's end to its _SUCCESS; and the staging capacity the load is a share of.
//
// Every window of the run (the measured ones and the partial ones around them) is then audited: every
// acknowledged event once in a complete closed window's part files, nothing in late/ or the dead letters.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX } from '../../services/storage/staging-manifest.ts';
import { windowEndUs, windowOf, windowStartUs } from '../../services/wire/window.ts';
import { auditClosed, waitForClosedClaims, type Acknowledged, type ClosedAudit } from '../kit/closed-audit.ts';
import { cpuSeconds } from '../kit/child-process.ts';
import { openPipeline } from '../kit/pipeline-processes.ts';
import { finalOf, MIX_TYPES } from '../kit/publisher-process.ts';

export interface LengthRun {
  readonly windowS: number;
  /** Windows measured (each closes once per type). */
  readonly windows: number;
  /** Window end → _SUCCESS of every close of a measured window that happened (s). */
  readonly delaysS: number[];
  /** Of each delay, the part until the close rule held (the rest is writing). */
  readonly proofDelaysS: number[];
  /** Closes of measured windows that had not happened MEASURE_TIMEOUT_MS after the last one's end. */
  readonly unclosed: number;
  readonly trackPlayedEventsPerWindow: number[];
  readonly loadEps: number;
  readonly checkerCores: number;
  readonly checkerEventsPerCpuS: number;
  readonly failedEvents: number;
  readonly audit: ClosedAudit;
  readonly note: string | undefined;
}

export interface LengthParams {
  readonly stack: LocalStack;
  readonly registry: Registry;
  readonly windowS: number;
  /** Consecutive fully loaded windows to measure. */
  readonly windows: number;
  /** Total events/s (track_played) the publishers aim at; 0 = as fast as backpressure allows. */
  readonly rateEps: number;
  readonly publishers: number;
}

/** How long after the last measured window's end its closes may take before the run stops waiting (ms). */
const MEASURE_TIMEOUT_MS = 180_000;
/** The first seconds of load warm the processes up; the first measured window starts after them (ms). */
const WARMUP_MS = 2000;

export async function measureLength(o: LengthParams): Promise<LengthRun> {
  const pipeline = await openPipeline({ stack: o.stack, registry: o.registry, windowS: o.windowS, withChecker: true });
  try {
    const windowMs = o.windowS * 1000;
    const startedMs = Date.now();
    const checkerCpu0 = await cpuSeconds(pipeline.checker!.pid);
    // A bound in case this process dies: the load normally stops when the measured windows have closed.
    const stopAtMs = startedMs + (o.windows + 2) * windowMs + 2 * MEASURE_TIMEOUT_MS;
    const publishers = await pipeline.startPublishers(o.publishers, { mix: true, rateEps: o.rateEps / o.publishers, stopAtMs, origin: 'bench-close' });
    const finals = publishers.map(finalOf);
    // Awaited once the load stops; a publisher that dies before fails the run there, not as an unhandled rejection now.
    for (const f of finals) f.catch(() => undefined);
    // The first window that starts after the warm-up.
    const first = windowOf((Date.now() + WARMUP_MS) * 1000 - 1, o.windowS) + 1;
    const measured = Array.from({ length: o.windows }, (_, i) => first + i);
    const lastEndMs = windowEndUs(measured.at(-1)!, o.windowS) / 1000;
    process.stderr.write(
      `close bench: ${o.windowS}-s windows at ${o.rateEps > 0 ? `${Math.round(o.rateEps)} events/s` : 'full speed'}, measuring ${o.windows} from ${new Date(windowStartUs(first, o.windowS) / 1000).toISOString()} to ${new Date(lastEndMs).toISOString()}\n`,
    );
    // The load runs until every measured window has closed (bounded), so every close happens under it.
    const closes = measured.flatMap((index) => MIX_TYPES.map((type) => layout.closed({ type, index, lengthS: o.windowS }) + layout.successName));
    const deadline = lastEndMs + MEASURE_TIMEOUT_MS;
    const seen = new Set<string>();
    while (seen.size < closes.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const key of closes) if (!seen.has(key) && (await pipeline.storage.stat(key))) seen.add(key);
    }
    const loadEndMs = Date.now();
    const checkerCpu = (await cpuSeconds(pipeline.checker!.pid)) - checkerCpu0;
    for (const p of publishers) await p.stop();
    const done = await Promise.all(finals);
    const acknowledged: Acknowledged[] = done.flatMap((f) => Object.entries(f.acknowledged).map(([type, events]) => ({ type, publisher: f.publisher, events })));
    // The partial window after the last measured one closes once it ends.
    const { windows, note } = await waitForClosedClaims(pipeline.storage, acknowledged, windowMs + MEASURE_TIMEOUT_MS);
    const auditStartedMs = Date.now();
    const audit = await auditClosed(pipeline.storage, windows, acknowledged);
    process.stderr.write(`close bench: read back ${audit.records} events of ${windows.length} closed windows in ${Math.round((Date.now() - auditStartedMs) / 1000)} s\n`);
    const inMeasured = windows.filter((w) => measured.includes(w.index));
    const closedDuringLoad = windows.filter((w) => w.successMs <= loadEndMs).reduce((n, w) => n + w.manifest.events, 0);
    return {
      windowS: o.windowS,
      windows: o.windows,
      delaysS: inMeasured.map((w) => (w.successMs - windowEndUs(w.index, o.windowS) / 1000) / 1000),
      proofDelaysS: inMeasured.map((w) => (w.manifest.proofDelayMs ?? w.manifest.closeDelayMs) / 1000),
      unclosed: closes.length - seen.size,
      trackPlayedEventsPerWindow: inMeasured.filter((w) => w.type === 'track_played').map((w) => w.manifest.events),
      loadEps: done.reduce((n, f) => n + f.acknowledged.track_played!, 0) / ((loadEndMs - startedMs) / 1000),
      checkerCores: checkerCpu / ((loadEndMs - startedMs) / 1000),
      checkerEventsPerCpuS: closedDuringLoad / Math.max(0.01, checkerCpu),
      failedEvents: done.reduce((n, f) => n + f.failed, 0),
      audit,
      note,
    };
  } finally {
    await pipeline.close();
  }
}

/**
 * The staging throughput the pipeline sustains on this machine: publishers as fast as backpressure
 * allows for `seconds`, and the events the worker staged over the second half of it, per second.
 * (No checker, and hour-long windows, so nothing moves staged files while they are counted.)
 */
export async function stagedCapacity(o: { stack: LocalStack; registry: Registry; publishers: number }, seconds: number): Promise<number> {
  const pipeline = await openPipeline({ stack: o.stack, registry: o.registry, windowS: 3600, withChecker: false });
  try {
    const startMs = Date.now();
    await pipeline.startPublishers(o.publishers, { mix: true, rateEps: 0, stopAtMs: startMs + seconds * 1000 + 5000, origin: 'bench-capacity' });
    const fromUs = (Date.now() + (seconds / 2) * 1000) * 1000;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const toUs = Date.now() * 1000;
    let events = 0;
    for (const obj of await pipeline.storage.list(layout.stagingRoot)) {
      if (!obj.key.endsWith(STAGING_MANIFEST_SUFFIX)) continue;
      const m = parseStagingManifest(obj.key, await pipeline.storage.get(obj.key));
      if (m.writtenAtUs >= fromUs && m.writtenAtUs < toUs) events += m.events;
    }
    return events / ((toUs - fromUs) / 1e6);
  } finally {
    await pipeline.close();
  }
}
