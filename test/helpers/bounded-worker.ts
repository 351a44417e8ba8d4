// Test helper: runs one exported function of a module in a worker thread with a deadline, so code that never returns fails a test instead of hanging the suite.
//
// A synchronous loop blocks the thread it runs on, timers included, so node:test's own timeout
// cannot stop it. A worker thread can be terminated from outside whatever it is doing: the test
// thread stays free, waits with a deadline, and reports the last progress the worker posted
// (for a property test, the case it was running).
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

const ENTRY = new URL('./bounded-worker-entry.ts', import.meta.url);

export interface BoundedRun {
  /** The module to load in the worker. */
  readonly module: URL;
  /** The exported function to call; it may be async, and its result must be cloneable. */
  readonly exportName: string;
  readonly args?: readonly unknown[];
  /** Fail when the function has not returned after this long (ms). */
  readonly deadlineMs: number;
}

/** Calls `module[exportName](...args)` in a worker; rejects if it throws or misses the deadline. */
export async function runWithDeadline<T>(run: BoundedRun): Promise<T> {
  const worker = new Worker(ENTRY, { workerData: { module: run.module.href, exportName: run.exportName, args: run.args ?? [] } });
  let lastProgress: unknown;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await new Promise<{ result: T } | { error: string } | { timedOut: true }>((resolve) => {
    worker.on('message', (m: { progress?: unknown; result?: T; error?: string }) => {
      if ('progress' in m) lastProgress = m.progress;
      else if ('error' in m) resolve({ error: m.error! });
      else resolve({ result: m.result as T });
    });
    worker.once('error', (err) => resolve({ error: err.stack ?? err.message }));
    worker.once('exit', (code) => resolve({ error: `the worker exited with code ${code} without an answer` }));
    timer = setTimeout(() => resolve({ timedOut: true }), run.deadlineMs);
  });
  clearTimeout(timer);
  // Whatever the function left running (or is still running) ends with the worker.
  await worker.terminate();
  if ('timedOut' in outcome) {
    throw new Error(`${run.exportName} did not return within ${run.deadlineMs} ms (it never terminates?); last progress: ${JSON.stringify(lastProgress)}`);
  }
  if ('error' in outcome) throw new Error(`${run.exportName} failed in its worker: ${outcome.error}`);
  return outcome.result;
}

/** Called by code running under runWithDeadline: what it is doing now, shown if it misses the deadline. No-op on the main thread. */
export function reportProgress(progress: unknown): void {
  if (!isMainThread) parentPort?.postMessage({ progress });
}
