// Process entry of the worker: options from the environment, then run until SIGTERM/SIGINT, which stop it gracefully (exit 0).
//
// Run: node services/worker/main.ts   (env: see worker-options.ts, WORKER_ENV)
// Logs one JSON object per line on stderr; prints {"event":"worker_started",…} when it is pulling.
import { PubSub } from '@google-cloud/pubsub';
import { emulatorClient } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { openStorage } from '../storage/open-storage.ts';
import { resolveWorkerOptions } from './worker-options.ts';
import { Worker, type WorkerLogEvent } from './worker.ts';

/** How often the worker's counters are logged (ms). */
const STATS_INTERVAL_MS = 30_000;

const log = (e: WorkerLogEvent | Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);

async function main(): Promise<void> {
  const options = resolveWorkerOptions(process.env);
  const registry = await Registry.load();
  const storage = await openStorage(options.storageLocation, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined });
  const pubsub = options.pubsubEmulatorHost ? emulatorClient(options.pubsubEmulatorHost, options.projectId) : new PubSub({ projectId: options.projectId });
  const worker = new Worker(options, { registry, storage, pubsub, log });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal means "now": what is unacked is delivered again, nothing is lost.
      log({ level: 'warn', event: 'forced_exit', signal });
      process.exit(1);
    }
    stopping = true;
    log({ level: 'info', event: 'stopping', signal });
    void worker
      .stop()
      .then(() => Promise.allSettled([pubsub.close(), storage.close()]))
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  worker.start();
  const statsTimer = setInterval(() => {
    log({ level: 'info', event: 'stats', ...worker.stats(), rssBytes: process.memoryUsage.rss() });
  }, STATS_INTERVAL_MS);
  statsTimer.unref();
  // For a parent process (tests, benchmarks) waiting for the worker to pull: on stdout, one line.
  process.stdout.write(`${JSON.stringify({ event: 'worker_started', worker: worker.id, types: worker.types, storage: storage.location })}\n`);
}

main().catch((err: unknown) => {
  log({ level: 'error', event: 'worker_failed', error: (err as Error).stack ?? String(err) });
  process.exit(1);
});
