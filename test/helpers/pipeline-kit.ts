// An in-process pipeline for tests: the Pub/Sub emulator, a worker and checkers on a bucket, with short windows.
//
// The bucket is a local directory, or fake-gcs-server reached through a proxy that loses the responses
// of some writes after they landed (the client library retries them and meets its own objects), with
// a small list page so every listing takes several pages. Either way the storage runs under the
// write-rate guard, and stop() fails when any write was refused by it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { Checker, type CheckerDeps } from '../../services/checker/checker.ts';
import { resolveCheckerOptions, type CheckerOptions } from '../../services/checker/checker-options.ts';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { WriteRateGuard } from '../../services/storage/write-rate-guard.ts';
import { Worker } from '../../services/worker/worker.ts';
import { resolveWorkerOptions, type WorkerOptions } from '../../services/worker/worker-options.ts';
import { startHttpFaultProxy, type HttpFaultProxy } from './http-fault-proxy.ts';
import { ensurePythonVenv, runPythonScript } from './python.ts';

export const WINDOW_S = 2;

export type PipelineBackend = 'local' | 'gcs';

export interface PipelineOptions {
  /** Default: local. */
  readonly backend?: PipelineBackend;
  /**
   * gcs only: one in this many create-only writes (and copies) loses its response after it landed, and one in
   * three times as many of the other writes (puts, deletes). Default: 20 (each lost response costs the client a second before it retries).
   */
  readonly loseResponseEvery?: number;
  /** gcs only: objects per list request. Default: 10. */
  readonly listPageSize?: number;
  /** The event types: a schemas folder (default: the shipped one). */
  readonly schemasDir?: string;
  /** Options of the kit's workers (e.g. announceStaged: false, as if every staged notice were lost). */
  readonly worker?: WorkerOptions;
}

/** The kit's storage: guarded; `root` is the local directory's (a gs:// kit has none and throws). */
export type PipelineStorage = WriteRateGuard & { readonly root: string };

export interface PipelineKit {
  readonly backend: PipelineBackend;
  readonly registry: Registry;
  readonly stack: LocalStack;
  readonly storage: PipelineStorage;
  readonly worker: Worker;
  /** gcs only: the proxy in front of fake-gcs-server. */
  readonly proxy: HttpFaultProxy | undefined;
  /** Starts a fresh worker (after the test stopped kit.worker), which kit.stop() stops too. */
  restartWorker(): Worker;
  /** Starts a checker; `pubsub` replaces the stack's client (e.g. one through a proxy the test can cut). */
  startChecker(overrides?: Partial<CheckerOptions>, storage?: Storage, pubsub?: PubSub, deps?: Pick<CheckerDeps, 'announce'>): Checker;
  /** Closed manifests seen so far, by "<type>/<window>". */
  readonly closed: Map<string, ClosedManifest>;
  waitForClosed(type: string, windows: number[], timeoutMs?: number): Promise<ClosedManifest[]>;
  /** Local paths holding the objects at `keys` (on gcs: downloaded copies), for readers that take files. */
  localFiles(keys: readonly string[]): Promise<string[]>;
  /** What the checkers are waiting on and what failed, for a test's error message when something does not close. */
  diagnose(type: string): string;
  stop(): Promise<void>;
}

const BUCKET = 'hg-pipeline';

export async function startPipeline(options: PipelineOptions = {}): Promise<PipelineKit> {
  const backend = options.backend ?? 'local';
  const registry = await Registry.load(options.schemasDir);
  const stack = await startLocalStack({ registry, ackDeadlineS: 20, ...(backend === 'gcs' ? { gcsBucket: BUCKET } : {}) });
  // Removed in stop(), after every component has stopped writing into it.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'hg-pipeline-'));
  let proxy: HttpFaultProxy | undefined;
  let storage: PipelineStorage;
  if (backend === 'gcs') {
    proxy = await startHttpFaultProxy(stack.gcs!.endpoint);
    const every = options.loseResponseEvery ?? 20;
    let creates = 0;
    let others = 0;
    proxy.setRule((r) => {
      if (r.method === 'GET') return 'forward';
      // The first create and first other write lose theirs too, so even a short test meets the fault it asserts.
      const lose = r.url.includes('ifGenerationMatch=0') ? ++creates % every === 1 : ++others % (3 * every) === 1;
      return lose ? 'lose-response' : 'forward';
    });
    const guarded = await openStorage(`gs://${BUCKET}/${path.basename(scratch)}`, { gcsEndpoint: proxy.endpoint, gcs: { listPageSize: options.listPageSize ?? 10 } });
    storage = Object.defineProperty(guarded, 'root', {
      get: () => {
        throw new Error('a gs:// pipeline has no local root: read objects with kit.storage.get() or kit.localFiles()');
      },
    }) as PipelineStorage;
  } else {
    const local = await LocalDirectoryStorage.open(path.join(scratch, 'bucket'));
    storage = Object.assign(new WriteRateGuard(local), { root: local.root });
  }
  const newWorker = () =>
    new Worker(resolveWorkerOptions({}, { storageLocation: storage.location, windowLengthS: WINDOW_S, maxFileAgeMs: 300, projectId: stack.pubsub.projectId, ...options.worker }), {
      registry,
      storage,
      pubsub: stack.client,
    });
  let worker = newWorker();
  worker.start();
  const checkers: Checker[] = [];
  const closed = new Map<string, ClosedManifest>();
  let downloads = 0;
  const kit: PipelineKit = {
    backend,
    registry,
    stack,
    storage,
    proxy,
    get worker() {
      return worker;
    },
    restartWorker() {
      worker = newWorker();
      worker.start();
      return worker;
    },
    closed,
    startChecker(overrides = {}, checkerStorage = storage, pubsub = stack.client, deps = {}) {
      const checker = new Checker({
        ...deps,
        registry,
        storage: checkerStorage,
        pubsub,
        options: resolveCheckerOptions({}, { location: storage.location, windowS: WINDOW_S, tickMs: 200, livenessTimeoutMs: 3000, maxWaitMs: 8000, ...overrides }),
        onClosed: (m) => closed.set(`${m.type}/${m.window}`, m),
      });
      checker.start();
      checkers.push(checker);
      return checker;
    },
    async waitForClosed(type, windows, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (windows.every((w) => closed.has(`${type}/${w}`))) return windows.map((w) => closed.get(`${type}/${w}`)!);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`windows ${windows.join(', ')} of ${type} did not close in ${timeoutMs} ms (closed: ${[...closed.keys()].join(', ')})\n${kit.diagnose(type)}`);
    },
    async localFiles(keys) {
      if (backend === 'local') return keys.map((k) => path.join(storage.root, k));
      const dir = path.join(scratch, `download-${downloads++}`);
      await mkdir(dir);
      return Promise.all(
        keys.map(async (k, i) => {
          const file = path.join(dir, `${i}-${path.basename(k)}`);
          await writeFile(file, await storage.get(k));
          return file;
        }),
      );
    },
    diagnose(type) {
      return checkers
        .map((c, i) => {
          const waiting = c.windowStates().filter((s) => s.type === type && (s.state === 'open' || s.state === 'closing'));
          return [
            `checker ${i}: ${c.errors.length} round errors${c.errors.length ? `, last: ${c.errors.slice(-3).join(' | ')}` : ''}`,
            ...waiting.map((s) => `  window ${s.window} ${s.state}, ${s.stagedEvents} staged, waiting on: ${(s.waitingOn ?? []).join('; ') || '-'}`),
          ].join('\n');
        })
        .join('\n');
    },
    async stop() {
      // Bounded, so a failed test cannot leave the run waiting on a stuck component.
      for (const c of checkers) await within(15_000, c.stop());
      await within(30_000, worker.stop());
      await proxy?.close();
      await stack.stop();
      await rm(scratch, { recursive: true, force: true, maxRetries: 5 });
      if (storage.refused.length > 0) throw new Error(`writes refused by the write-rate guard (one write per object name per second):\n${storage.refused.join('\n')}`);
    },
  };
  after(() => kit.stop());
  return kit;
}

function within(ms: number, p: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

export interface ReadRecord {
  readonly publisher: string;
  readonly seq: number;
  readonly event_id: string;
  readonly [field: string]: unknown;
}

/** Reads Avro files with fastavro (an independent reader): the records of every file, in order. */
export async function readWithFastavro(files: string[]): Promise<ReadRecord[]> {
  if (files.length === 0) return [];
  const python = await ensurePythonVenv();
  const script = `
import sys, json, fastavro
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        for r in fastavro.reader(f):
            r['receive_time'] = int(r['receive_time'].timestamp() * 1_000_000) if hasattr(r['receive_time'], 'timestamp') else r['receive_time']
            print(json.dumps(r, default=str))
`;
  const out = await runPythonScript(python, script, files);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ReadRecord);
}
