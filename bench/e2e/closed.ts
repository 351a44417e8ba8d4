// The whole pipeline to _SUCCESS, as processes: SDK publishers at full speed → Pub/Sub emulator → worker → local bucket folder ← checker; every acknowledged event proven once in a closed window.
//
// The figure is the number of acknowledged events divided by the time from the first publish to the
// last window's _SUCCESS: how long it took, start to finish, to make that many events readable and
// proven. Publishing stops just before a window's end, so the time holds no wait for a half-empty
// window to end; what it does hold beyond publishing is the tail: the backlog the publishers built
// up (drained by the worker once they stop) and one close delay.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { auditClosed, waitForClosedClaims, type Acknowledged, type ClosedAudit } from '../kit/closed-audit.ts';
import { cpuSeconds } from '../kit/child-process.ts';
import { openPipeline } from '../kit/pipeline-processes.ts';
import { finalOf } from '../kit/publisher-process.ts';

export interface ClosedRun {
  readonly closedEps: number;
  /** Events/s acknowledged to the publishers while they published. */
  readonly publishedEps: number;
  readonly acknowledgedEvents: number;
  readonly failedEvents: number;
  readonly publishS: number;
  /** From the end of publishing (a window's end) to the last _SUCCESS. */
  readonly tailS: number;
  readonly windowS: number;
  /** Closed windows of track_played (each type closes its own). */
  readonly windows: number;
  readonly checkerCores: number;
  readonly audit: ClosedAudit;
  /** Why the wait for the closes ended early, if it did. */
  readonly note: string | undefined;
}

/** Publishing never runs into the window after the last one: it stops this long before that window's end (ms). */
const STOP_BEFORE_WINDOW_END_MS = 50;
/** How long the closes may take after publishing stopped before the audit counts what is missing (ms). */
const CLOSE_TIMEOUT_MS = 180_000;

export async function closedRun(o: { stack: LocalStack; registry: Registry; seconds: number; windowS: number; publishers: number }): Promise<ClosedRun> {
  const pipeline = await openPipeline({ stack: o.stack, registry: o.registry, windowS: o.windowS, withChecker: true });
  try {
    const checkerCpu0 = await cpuSeconds(pipeline.checker!.pid);
    const windowMs = o.windowS * 1000;
    const stopAtMs = Math.ceil((Date.now() + o.seconds * 1000) / windowMs) * windowMs - STOP_BEFORE_WINDOW_END_MS;
    const publishers = await pipeline.startPublishers(o.publishers, { mix: true, rateEps: 0, stopAtMs, origin: 'bench-e2e' });
    const finals = await Promise.all(publishers.map(finalOf));
    const acknowledged: Acknowledged[] = finals.flatMap((f) => Object.entries(f.acknowledged).map(([type, events]) => ({ type, publisher: f.publisher, events })));
    const { windows, note } = await waitForClosedClaims(pipeline.storage, acknowledged, CLOSE_TIMEOUT_MS);
    const checkerCpu = (await cpuSeconds(pipeline.checker!.pid)) - checkerCpu0;
    const firstMs = Math.min(...finals.map((f) => f.firstPublishMs));
    const endMs = Math.max(...finals.map((f) => f.lastPublishMs));
    const lastSuccessMs = Math.max(...windows.map((w) => w.successMs));
    const audit = await auditClosed(pipeline.storage, windows, acknowledged);
    const acknowledgedEvents = acknowledged.reduce((n, a) => n + a.events, 0);
    return {
      closedEps: acknowledgedEvents / ((lastSuccessMs - firstMs) / 1000),
      publishedEps: acknowledgedEvents / ((endMs - firstMs) / 1000),
      acknowledgedEvents,
      failedEvents: finals.reduce((n, f) => n + f.failed, 0),
      publishS: (endMs - firstMs) / 1000,
      tailS: (lastSuccessMs - endMs) / 1000,
      windowS: o.windowS,
      windows: new Set(windows.filter((w) => w.type === 'track_played').map((w) => w.index)).size,
      checkerCores: checkerCpu / ((lastSuccessMs - firstMs) / 1000),
      audit,
      note,
    };
  } finally {
    await pipeline.close();
  }
}
