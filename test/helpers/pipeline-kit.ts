// An in-process pipeline for tests: the Pub/Sub emulator, a worker and checkers on a local bucket, with short windows.
import { after } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions, type CheckerOptions } from '../../services/checker/checker-options.ts';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { Worker } from '../../services/worker/worker.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';
import { ensurePythonVenv, runPythonScript } from './python.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const WINDOW_S = 2;

export interface PipelineKit {
  readonly registry: Registry;
  readonly stack: LocalStack;
  readonly storage: LocalDirectoryStorage;
  readonly worker: Worker;
  /** Starts a fresh worker (after the test stopped kit.worker), which kit.stop() stops too. */
  restartWorker(): Worker;
  /** Starts a checker; `pubsub` replaces the stack's client (e.g. one through a proxy the test can cut). */
  startChecker(overrides?: Partial<CheckerOptions>, storage?: Storage, pubsub?: PubSub): Checker;
  /** Closed manifests seen so far, by "<type>/<window>". */
  readonly closed: Map<string, ClosedManifest>;
  waitForClosed(type: string, windows: number[], timeoutMs?: number): Promise<ClosedManifest[]>;
  /** What the checkers are waiting on and what failed, for a test's error message when something does not close. */
  diagnose(type: string): string;
  stop(): Promise<void>;
}

export interface PipelineKitOptions {
  /** The event types: a schemas folder (default: the shipped one). */
  readonly schemasDir?: string;
}

export async function startPipeline(options: PipelineKitOptions = {}): Promise<PipelineKit> {
  const registry = await Registry.load(options.schemasDir);
  const stack = await startLocalStack({ registry, ackDeadlineS: 20 });
  // Removed in stop(), after every component has stopped writing into it.
  const root = await mkdtemp(path.join(os.tmpdir(), 'hg-pipeline-'));
  const storage = await LocalDirectoryStorage.open(root);
  const newWorker = () =>
    new Worker(resolveWorkerOptions({}, { storageLocation: storage.location, windowLengthS: WINDOW_S, maxFileAgeMs: 300, projectId: stack.pubsub.projectId }), {
      registry,
      storage,
      pubsub: stack.client,
    });
  let worker = newWorker();
  worker.start();
  const checkers: Checker[] = [];
  const closed = new Map<string, ClosedManifest>();
  const kit: PipelineKit = {
    registry,
    stack,
    storage,
    get worker() {
      return worker;
    },
    restartWorker() {
      worker = newWorker();
      worker.start();
      return worker;
    },
    closed,
    startChecker(overrides = {}, checkerStorage = storage, pubsub = stack.client) {
      const checker = new Checker({
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
      await stack.stop();
      await rm(root, { recursive: true, force: true, maxRetries: 5 });
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
