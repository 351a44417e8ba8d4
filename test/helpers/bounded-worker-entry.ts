// The worker side of bounded-worker.ts: loads the module, calls the function, posts its result or its error.
import { parentPort, workerData } from 'node:worker_threads';

const { module, exportName, args } = workerData as { module: string; exportName: string; args: unknown[] };

/** Long failure reports (a property's counterexample may hold megabyte strings) are cut to this, per error in the chain. */
const MAX_ERROR_CHARS = 8_000;

try {
  const loaded = (await import(module)) as Record<string, (...a: unknown[]) => unknown>;
  const fn = loaded[exportName];
  if (typeof fn !== 'function') throw new Error(`${module} exports no function ${exportName}`);
  parentPort!.postMessage({ result: await fn(...args) });
} catch (err) {
  // fast-check puts the failing assertion in `cause`.
  const chain: string[] = [];
  for (let e: unknown = err; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
    chain.push(text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}… (${text.length} chars)` : text);
  }
  parentPort!.postMessage({ error: chain.join('\ncaused by: ') });
}
