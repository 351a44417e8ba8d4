// The pipeline up to staging, as processes: SDK publishers at full speed → Pub/Sub emulator → worker → local bucket folder; how fast events become durable in staging, and that none is lost on the way.
//
// Staging is not delivery (nothing is proven or readable yet): e2e/closed.ts measures to _SUCCESS.
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../../services/storage/staging-manifest.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { cpuSeconds, groupCpuSeconds, peakRssSampler } from '../kit/child-process.ts';
import { openPipeline } from '../kit/pipeline-processes.ts';
import { finalOf } from '../kit/publisher-process.ts';
import { SeqLedger } from '../kit/seq-ledger.ts';

export interface StagingRun {
  /** Events/s staged between the warm-up and the end of publishing (by the staging manifests' write times). */
  readonly stagedEps: number;
  /** Events/s acknowledged to the publishers over the whole publishing time. */
  readonly publishedEps: number;
  readonly acknowledgedEvents: number;
  readonly failedEvents: number;
  /** Acknowledged events in no staging manifest after the drain. */
  readonly lostEvents: number;
  /** Extra staged copies (redeliveries; the checker drops them when it closes). */
  readonly duplicateEvents: number;
  readonly lostExamples: string[];
  /** Cores used while publishing, by process. */
  readonly cores: { readonly publishers: number; readonly emulator: number; readonly worker: number };
  readonly workerEventsPerCpuS: number;
  readonly workerPeakRssBytes: number;
}

export async function stagingRun(o: { stack: LocalStack; registry: Registry; seconds: number; warmupS: number; publishers: number }): Promise<StagingRun> {
  // Hour-long windows and no checker: nothing moves a staged file while it is counted.
  const pipeline = await openPipeline({
    stack: o.stack,
    registry: o.registry,
    windowS: 3600,
    withChecker: false,
    workerTypes: ['track_played'],
    workerEnv: process.env.HG_BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.HG_BENCH_WORKER_NODE_OPTIONS } : {},
  });
  try {
    const rss = peakRssSampler(pipeline.worker.pid);
    const cpuBefore = { emulator: await groupCpuSeconds(o.stack.pubsub.pid), worker: await cpuSeconds(pipeline.worker.pid) };
    const publishers = await pipeline.startPublishers(o.publishers, { mix: false, rateEps: 0, stopAtMs: Date.now() + o.seconds * 1000, origin: 'bench-staging' });
    const finals = await Promise.all(publishers.map(finalOf));
    const cpu = {
      emulator: (await groupCpuSeconds(o.stack.pubsub.pid)) - cpuBefore.emulator,
      worker: (await cpuSeconds(pipeline.worker.pid)) - cpuBefore.worker,
      publishers: finals.reduce((n, f) => n + f.cpuS, 0),
    };
    const firstMs = Math.min(...finals.map((f) => f.firstPublishMs));
    const endMs = Math.max(...finals.map((f) => f.lastPublishMs));
    const acknowledged = finals.map((f) => ({ type: 'track_played', publisher: f.publisher, events: f.acknowledged.track_played ?? 0 }));
    const acknowledgedEvents = acknowledged.reduce((n, a) => n + a.events, 0);
    // Drain: every acknowledged seq must reach a staging manifest.
    const manifests = new Map<string, StagingManifest>();
    let tally = compareStaged(manifests, acknowledged);
    await waitUntil(
      `all ${acknowledgedEvents} acknowledged events in staging`,
      async () => {
        await readNewManifests(pipeline.storage, manifests);
        tally = compareStaged(manifests, acknowledged);
        return tally.missing === 0;
      },
      120_000,
      500,
    ).catch(() => undefined); // the lost count says how many never arrived
    const peakRss = await rss.stop();
    const fromUs = (firstMs + o.warmupS * 1000) * 1000;
    const stagedInWindow = [...manifests.values()].filter((m) => m.writtenAtUs >= fromUs && m.writtenAtUs <= endMs * 1000).reduce((n, m) => n + m.events, 0);
    const publishS = (endMs - firstMs) / 1000;
    return {
      stagedEps: stagedInWindow / (endMs / 1000 - fromUs / 1e6),
      publishedEps: acknowledgedEvents / publishS,
      acknowledgedEvents,
      failedEvents: finals.reduce((n, f) => n + f.failed, 0),
      lostEvents: tally.missing,
      duplicateEvents: tally.duplicates,
      lostExamples: tally.examples,
      cores: { publishers: cpu.publishers / publishS, emulator: cpu.emulator / publishS, worker: cpu.worker / publishS },
      workerEventsPerCpuS: acknowledgedEvents / cpu.worker,
      workerPeakRssBytes: peakRss,
    };
  } finally {
    await pipeline.close();
  }
}

async function readNewManifests(storage: Storage, into: Map<string, StagingManifest>): Promise<void> {
  for (const o of await storage.list('staging/')) {
    if (o.key.endsWith(STAGING_MANIFEST_SUFFIX) && !into.has(o.key)) into.set(o.key, parseStagingManifest(o.key, await storage.get(o.key)));
  }
}

/** Per publisher and seq: what the staging manifests list, against what was acknowledged. */
function compareStaged(manifests: ReadonlyMap<string, StagingManifest>, acknowledged: ReadonlyArray<{ type: string; publisher: string; events: number }>) {
  const ledger = new SeqLedger();
  for (const m of manifests.values()) for (const msg of m.messages) ledger.stream(m.type, msg.publisher).addRange(msg.firstSeq, msg.count);
  return ledger.compare(acknowledged);
}
