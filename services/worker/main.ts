// Process entry of the worker: options from the environment, metrics and health endpoints, then run until SIGTERM/SIGINT, which stop it gracefully (exit 0).
//
// Run: node services/worker/main.ts   (env: see worker-options.ts, WORKER_ENV; HOURGLASS_OPS_PORT or PORT for /metrics /healthz /readyz)
// Logs one JSON object per line on stdout (createLogger, service "worker"); {"event":"worker_started",…} says it is pulling.
import { PubSub } from '@google-cloud/pubsub';
import { emulatorClient } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { faultOptionsFromEnv } from '../storage/faulty-storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startOpsServer } from '../telemetry/ops-server.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { observeWorker } from './worker-gauges.ts';
import { resolveWorkerOptions } from './worker-options.ts';
import { Worker, type WorkerLogEvent } from './worker.ts';

/** How often the worker's counters are logged (ms). */
const STATS_INTERVAL_MS = 30_000;

const logger = createLogger('worker');
// First: instruments made before a meter provider is registered (the worker's counters) would stay no-ops.
const telemetry = startTelemetry({ service: 'worker', otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined });

async function main(): Promise<void> {
  const options = resolveWorkerOptions(process.env);
  const registry = await Registry.load();
  const faults = faultOptionsFromEnv(process.env);
  const storage = await openStorage(options.storageLocation, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined, faults });
  const pubsub = options.pubsubEmulatorHost ? emulatorClient(options.pubsubEmulatorHost, options.projectId) : new PubSub({ projectId: options.projectId });
  let ready = false;
  // Cloud Run gives PORT (and routes to it only once something listens there); locally HOURGLASS_OPS_PORT (0 picks a free one). Without either, no ops server.
  const opsPort = process.env.HOURGLASS_OPS_PORT ?? process.env.PORT;
  const ops = opsPort === undefined ? undefined : await startOpsServer({ port: Number(opsPort), host: process.env.HOURGLASS_OPS_HOST ?? (process.env.PORT ? '0.0.0.0' : '127.0.0.1'), telemetry, ready: () => ready });
  const log = ({ level, event, ...fields }: WorkerLogEvent) =>
    // The worker's own start line also carries what only this process knows, so one line tells where it writes and where it is scraped.
    logger.log(level, event, event === 'worker_started' ? { ...fields, storage: storage.location, ops: ops?.url, ...(faults ? { injectedStorageFaults: faults } : {}) } : fields);
  const worker = new Worker(options, { registry, storage, pubsub, log });
  const gauges = observeWorker(() => worker.stats());

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal means "now": what is unacked is delivered again, nothing is lost.
      logger.warn('forced_exit', { signal });
      process.exit(1);
    }
    stopping = true;
    ready = false;
    logger.info('stopping', { signal });
    void worker
      .stop()
      .then(() => {
        gauges.close();
        return Promise.allSettled([pubsub.close(), storage.close(), ops?.close(), telemetry.shutdown()]);
      })
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  worker.start();
  ready = true;
  const statsTimer = setInterval(() => {
    logger.info('stats', { ...worker.stats(), rssBytes: process.memoryUsage.rss() });
  }, STATS_INTERVAL_MS);
  statsTimer.unref();
}

main().catch((err: unknown) => {
  logger.error('worker_failed', { error: (err as Error).stack ?? String(err) });
  process.exit(1);
});
