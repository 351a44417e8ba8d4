// The worker side of bounded-worker.ts: loads the module, calls the function, posts its result or its error.
import { parentPort, workerData } from 'node:worker_threads';

const { module, exportName, args } = workerData as { module: string; exportName: string; args: unknown[] };

/** Long failure reports (a property's counterexample may hold megabyte strings) are cut to this. */
const MAX_ERROR_CHARS = 20_000;

try {
  const loaded = (await import(module)) as Record<string, (...a: unknown[]) => unknown>;
  const fn = loaded[exportName];
  if (typeof fn !== 'function') throw new Error(`${module} exports no function ${exportName}`);
  parentPort!.postMessage({ result: await fn(...args) });
} catch (err) {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  parentPort!.postMessage({ error: text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}… (${text.length} chars)` : text });
}
