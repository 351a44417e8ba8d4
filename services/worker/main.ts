// Process entry of the worker: options from the environment, metrics and health endpoints, then run until SIGTERM/SIGINT, which stop it within one budget.
//
// Run: node services/worker/main.ts   (env: the settings of worker-options.ts, tabled in docs/configuration.md; HOURGLASS_OPS_PORT or PORT for /metrics, /health/live, /health/ready)
// Logs one JSON object per line on stdout (createLogger, service "worker"); {"event":"worker_started",…} says it is pulling.
//
// SIGTERM (Cloud Run sends SIGKILL 10 s later): the whole path, from the signal to the exit, runs inside
// shutdownTimeoutMs (HOURGLASS_SHUTDOWN_TIMEOUT_MS, default 9000), each step by its own deadline
// (shutdown-budget.ts). One {"event":"shutdown_finished",…} line says what finished, what was abandoned
// and how long it took. Exit 0 when every step finished in time; 1 when one was abandoned (its messages
// were nacked or left unacked, so Pub/Sub delivers them again: nothing acked is lost), or on a second signal.
import { PubSub } from '@google-cloud/pubsub';
import { emulatorClient } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { configOrExit } from '../config/config-or-exit.ts';
import { telemetryOptionsOf } from '../config/shared-settings.ts';
import { faultOptionsFrom } from '../storage/faulty-storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startOpsServer } from '../telemetry/ops-server.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { planShutdown, type StepOutcome } from './shutdown-budget.ts';
import { observeWorker } from './worker-gauges.ts';
import { resolveWorkerOptions } from './worker-options.ts';
import { Worker, type WorkerLogEvent } from './worker.ts';

/** How often the worker's counters are logged (ms). */
const STATS_INTERVAL_MS = 30_000;
/** How long past its budget a shutdown that did not end is cut short (ms). */
const BACKSTOP_MS = 250;

const options = configOrExit(() => resolveWorkerOptions(process.env), (event, fields) => createLogger('worker').error(event, fields));
const logger = createLogger('worker', { project: options.projectId });
// First: instruments made before a meter provider is registered (the worker's counters) would stay no-ops.
const telemetry = startTelemetry({ service: 'worker', ...telemetryOptionsOf(options) });

async function main(): Promise<void> {
  const registry = await Registry.load(options.schemasDir);
  const faults = faultOptionsFrom(options);
  const storage = await openStorage(options.storageLocation, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined, faults });
  const pubsub = options.pubsubEmulatorHost ? emulatorClient(options.pubsubEmulatorHost, options.projectId) : new PubSub({ projectId: options.projectId });
  let ready = false;
  // Cloud Run gives PORT (and routes to it only once something listens there); locally HOURGLASS_OPS_PORT (0 picks a free one). Without either, no ops server.
  const ops = options.opsPort === undefined ? undefined : await startOpsServer({ port: options.opsPort, host: options.opsHost, telemetry, ready: () => ready });
  const log = ({ level, event, ...fields }: WorkerLogEvent) =>
    // The worker's own start line also carries what only this process knows, so one line tells where it writes and where it is scraped.
    logger.log(level, event, event === 'worker_started' ? { ...fields, storage: storage.location, ops: ops?.url, ...(faults ? { injectedStorageFaults: faults } : {}) } : fields);
  const worker = new Worker(options, { registry, storage, pubsub, log });
  const gauges = observeWorker(() => worker.stats());

  const statsTimer = setInterval(() => {
    logger.info('stats', { ...worker.stats(), rssBytes: process.memoryUsage.rss() });
  }, STATS_INTERVAL_MS);
  statsTimer.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second signal means "now": what is unacked is delivered again, nothing is lost.
      logger.warn('forced_exit', { signal });
      process.exit(1);
    }
    stopping = true;
    ready = false;
    clearInterval(statsTimer);
    const started = performance.now();
    const plan = planShutdown(options.shutdownTimeoutMs);
    // Every step below is bounded; this is the last resort, should something unbounded hold the process past its budget.
    setTimeout(() => {
      logger.error('shutdown_deadline_passed', { signal, budgetMs: plan.budgetMs });
      process.exit(1);
    }, plan.exit.remainingMs() + BACKSTOP_MS).unref();
    logger.info('stopping', { signal, budgetMs: plan.budgetMs, writesByMs: Math.round(plan.writes.remainingMs()), releaseByMs: Math.round(plan.release.remainingMs()) });
    // 1. Writes until plan.writes (what is not durable then is nacked), the subscriptions released until plan.release.
    const report = await worker.stop({ writes: plan.writes, release: plan.release });
    gauges.close();
    // 2. The process's clients, at once, until plan.exit. Unfinished, none of them loses anything: acks and nacks were sent (or their messages come again).
    const steps: Array<[string, Promise<unknown>]> = [
      ['pubsub_client', pubsub.close()],
      ['storage', storage.close()],
      ['telemetry', telemetry.shutdown()],
      ...(ops ? [['ops_server', ops.close()] as [string, Promise<unknown>]] : []),
    ];
    const outcomes = await Promise.all(steps.map(async ([name, step]) => [name, await plan.exit.race(step)] as [string, StepOutcome<unknown>]));
    const finished = [...(report.flushed ? ['writes'] : []), ...(report.released ? ['release'] : []), ...outcomes.filter(([, o]) => o.status === 'done').map(([name]) => name)];
    const abandoned = [...(report.flushed ? [] : ['writes']), ...(report.released ? [] : ['release']), ...outcomes.filter(([, o]) => o.status !== 'done').map(([name]) => name)];
    const errors = Object.fromEntries(outcomes.flatMap(([name, o]) => (o.status === 'failed' ? [[name, (o.error as Error)?.message ?? String(o.error)]] : [])));
    logger.log(abandoned.length === 0 ? 'info' : 'warn', 'shutdown_finished', {
      signal,
      budgetMs: plan.budgetMs,
      tookMs: Math.round(performance.now() - started),
      finished,
      abandoned,
      abandonedMessages: report.abandonedMessages,
      abandonedWrites: report.abandonedWrites,
      ...(Object.keys(errors).length > 0 ? { errors } : {}),
    });
    process.exit(abandoned.length === 0 ? 0 : 1);
  };
  const onSignal = (signal: string) =>
    void shutdown(signal).catch((err: unknown) => {
      logger.error('shutdown_failed', { signal, error: (err as Error).stack ?? String(err) });
      process.exit(1);
    });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  worker.start();
  ready = true;
}

main().catch((err: unknown) => {
  logger.error('worker_failed', { error: (err as Error).stack ?? String(err) });
  process.exit(1);
});
