// The chaos suite's bucket: a local directory or fake-gcs-server, with a storage outage the suite can inflict on each worker, and what the suite reads of it.
//
// local: workers write through their own views of the directory (chaos/storage-fault.ts); an outage
//        makes every write of that worker fail before anything lands.
// gcs:   fake-gcs-server (Cloud Storage's API: preconditions, generations, server-side copy, paged
//        listing); each worker reaches it through its own loopback TCP proxy, and an outage refuses
//        that worker's connections (and resets the open ones), as an unreachable Cloud Storage would.
// Checkers always see the bucket directly (their own storage faults come from the services' hook).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFakeGcsServer, type FakeGcsServer } from '../services/local-stack/fake-gcs-server.ts';
import { openStorage } from '../services/storage/open-storage.ts';
import { STAGING_MANIFEST_SUFFIX } from '../services/storage/staging-manifest.ts';
import type { Storage } from '../services/storage/storage.ts';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.ts';
import { makeWorkerView, type WorkerView } from './storage-fault.ts';

const GCS_BUCKET = 'hourglass-chaos';

export interface ChaosBucket {
  /** What the checkers (and the suite) are given: HOURGLASS_BUCKET, and HOURGLASS_GCS_ENDPOINT on gcs. */
  readonly env: Readonly<Record<string, string>>;
  /** The suite's own reader of the bucket (for settling and the staging witness; the audit reads independently). */
  readonly storage: Storage;
  /** The environment of worker i: its path to the bucket, which failWorker(i) cuts. */
  workerEnv(i: number): Record<string, string>;
  isFailing(i: number): boolean;
  failWorker(i: number): Promise<void>;
  healWorker(i: number): Promise<void>;
  /** How chaos/audit.py reads the bucket. */
  auditArgs(): string[];
  close(): Promise<void>;
}

export async function openChaosBucket(kind: 'local' | 'gcs', runDir: string, workers: number): Promise<ChaosBucket> {
  return kind === 'local' ? openLocal(runDir, workers) : openGcs(runDir, workers);
}

async function openLocal(runDir: string, workers: number): Promise<ChaosBucket> {
  const bucket = path.join(runDir, 'bucket');
  await mkdir(bucket, { recursive: true });
  const views: WorkerView[] = await Promise.all(Array.from({ length: workers }, (_, i) => makeWorkerView(bucket, path.join(runDir, `worker-view-${i}`))));
  const storage = await openStorage(`file://${bucket}`);
  return {
    env: { HOURGLASS_BUCKET: `file://${bucket}` },
    storage,
    workerEnv: (i) => ({ HOURGLASS_BUCKET: views[i]!.location }),
    isFailing: (i) => views[i]!.failing,
    failWorker: (i) => views[i]!.fail(),
    healWorker: (i) => views[i]!.heal(),
    auditArgs: () => ['--bucket', bucket],
    close: () => storage.close(),
  };
}

async function openGcs(runDir: string, workers: number): Promise<ChaosBucket> {
  let server: FakeGcsServer | undefined;
  const proxies: TcpProxy[] = [];
  const failing = new Set<number>();
  try {
    // The filesystem backend: the memory one's cost per create grows with the objects stored (see fake-gcs-server.ts).
    server = await startFakeGcsServer({ logFile: path.join(runDir, 'logs', 'fake-gcs-server.log'), backend: 'filesystem' });
    await server.createBucket(GCS_BUCKET);
    for (let i = 0; i < workers; i++) proxies.push(await startTcpProxy(server.endpoint.replace(/^http:\/\//, '')));
    const endpoint = server.endpoint;
    const storage = await openStorage(`gs://${GCS_BUCKET}`, { gcsEndpoint: endpoint });
    const gcs = server;
    return {
      env: { HOURGLASS_BUCKET: `gs://${GCS_BUCKET}`, HOURGLASS_GCS_ENDPOINT: endpoint },
      storage,
      workerEnv: (i) => ({ HOURGLASS_BUCKET: `gs://${GCS_BUCKET}`, HOURGLASS_GCS_ENDPOINT: `http://${proxies[i]!.address}` }),
      isFailing: (i) => failing.has(i),
      failWorker: async (i) => {
        failing.add(i);
        proxies[i]!.cut('refuse');
      },
      healWorker: async (i) => {
        failing.delete(i);
        proxies[i]!.restore();
      },
      auditArgs: () => ['--gcs-endpoint', endpoint, '--gcs-bucket', GCS_BUCKET],
      close: async () => {
        await storage.close();
        for (const p of proxies) await p.close();
        await gcs.stop();
      },
    };
  } catch (err) {
    for (const p of proxies) await p.close();
    await server?.stop();
    throw err;
  }
}

/** Objects under staging/ (the folders the local views keep are not objects). */
export async function stagedObjects(storage: Storage): Promise<number> {
  // A checker removing folders while a local listing walks them can make it fail now and then: try again.
  for (let attempt = 0; ; attempt++) {
    try {
      return (await storage.list('staging/')).filter((o) => !o.key.includes('/.chaos-keep')).length;
    } catch (err) {
      if (attempt > 50) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Copies every staging manifest it sees (they are small and immutable) into `into`, polling every
 * 200 ms: a record of what the workers made durable, for the audit's trace of a missing event
 * (diagnostics only). A file staged and removed between two polls can be missed.
 */
export function startStagingWitness(storage: Storage, into: string): { stop(): Promise<void> } {
  const copied = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    await mkdir(into, { recursive: true });
    while (!stopped) {
      const objects = await storage.list('staging/').catch(() => []);
      for (const o of objects) {
        if (!o.key.endsWith(STAGING_MANIFEST_SUFFIX) || copied.has(o.key)) continue;
        const bytes = await storage.get(o.key).catch(() => undefined);
        if (!bytes) continue;
        copied.add(o.key);
        await writeFile(path.join(into, `${copied.size}-${path.basename(o.key)}`), bytes);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
