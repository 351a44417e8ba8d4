// Process entry of the table committer: configuration from the environment, the catalog and bucket clients, one log line per committed window, metrics, graceful stop.
//
// SIGTERM: stop taking windows, let those in progress finish within HOURGLASS_SHUTDOWN_TIMEOUT_MS
// (default 9000), then exit. A window cut short is safe: it was not acked, so Pub/Sub delivers it again
// and its commit is idempotent; files an unfinished attempt wrote are referenced by nothing.
import { PubSub } from '@google-cloud/pubsub';
import { metrics } from '@opentelemetry/api';
import { GoogleAuth } from 'google-auth-library';
import { Deadline } from '../concurrency/deadline.ts';
import { configOrExit } from '../config/config-or-exit.ts';
import { telemetryOptionsOf } from '../config/shared-settings.ts';
import { emulatorClient } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { openStorage } from '../storage/open-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startOpsServer } from '../telemetry/ops-server.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { RestCatalog } from './rest-catalog.ts';
import { resolveTableOptions } from './table-options.ts';
import { TableCommitter } from './table-committer.ts';

const options = configOrExit(() => resolveTableOptions(process.env), (event, fields) => createLogger('table').error(event, fields));
const log = createLogger('table', { project: options.projectId });
const telemetry = startTelemetry({ service: 'table', ...telemetryOptionsOf(options) });

/** Requests to a Google catalog (BigLake) carry the service account's token and bill its project. */
function catalogHeaders(uri: string): (() => Promise<Record<string, string>>) | undefined {
  if (!new URL(uri).hostname.endsWith('.googleapis.com')) return undefined;
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return async () => ({ authorization: `Bearer ${await auth.getAccessToken()}`, 'x-goog-user-project': options.projectId });
}

try {
  const registry = await Registry.load(options.schemasDir);
  const bucket = await openStorage(options.storageLocation, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined });
  const locations = new Map<string, Promise<Storage>>();
  const openLocation = (location: string) => {
    let s = locations.get(location);
    if (!s) locations.set(location, (s = openStorage(location, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined })));
    return s;
  };
  const catalog = new RestCatalog({ uri: options.catalogUri, warehouse: options.warehouse, headers: catalogHeaders(options.catalogUri) });
  const pubsub = options.pubsubEmulatorHost ? emulatorClient(options.pubsubEmulatorHost, options.projectId) : new PubSub({ projectId: options.projectId });
  const meter = metrics.getMeter('hourglass-table');
  const lag = meter.createHistogram('hourglass.table.lag', { description: "From a window's end to its snapshot committed", unit: 's' });
  const commits = meter.createCounter('hourglass.table.commits', { description: 'Closed windows handled, by outcome (committed, already_committed, skipped, refused, failed)', unit: '{window}' });
  const converted = meter.createCounter('hourglass.table.records', { description: 'Records converted to Parquet and committed', unit: '{record}' });
  const committer = new TableCommitter({
    pubsub,
    subscription: options.subscription,
    registry,
    windowsInParallel: options.windowsInParallel,
    deps: {
      catalog,
      namespace: options.namespace,
      bucket,
      openLocation,
      committer: options.committerId,
      maxAttempts: options.maxAttempts,
      ...(options.fault === 'kill-before-commit' ? { beforeCommit: () => void process.kill(process.pid, 'SIGKILL') } : {}),
    },
    onCommitted: ({ event, outcome, lagMs }) => {
      commits.add(1, { outcome: outcome.outcome.replace('-', '_'), type: event.type });
      if (outcome.outcome === 'committed') {
        lag.record(lagMs / 1000, { type: event.type });
        converted.add(outcome.records, { type: event.type });
      }
      log.info('window_committed', {
        code: 'HG_TABLE_COMMITTED',
        type: event.type,
        window: event.windowStart,
        status: event.status,
        outcome: outcome.outcome,
        snapshotId: outcome.snapshotId === undefined ? undefined : String(outcome.snapshotId),
        ...(outcome.outcome === 'committed' ? { records: outcome.records, dataFiles: outcome.dataFiles, attempts: outcome.attempts, convertMs: Math.round(outcome.convertMs) } : {}),
        lagMs,
      });
    },
    // Counted, not logged: with hundreds of types most closes are of types without a table.
    onSkipped: (event) => commits.add(1, { outcome: 'skipped', type: event.type }),
    onRefused: (key, reason) => {
      commits.add(1, { outcome: 'refused' });
      log.error('window_refused', { code: 'HG_TABLE_REFUSED', deadLetter: `${bucket.location}/${key}`, reason });
    },
    onError: (error, event) => {
      commits.add(1, { outcome: 'failed' });
      log.warn('window_commit_failed', { code: 'HG_TABLE_COMMIT_FAILED', type: event?.type, window: event?.windowStart, error: error.message });
    },
  });
  committer.start();
  let ready = true;
  const ops = options.opsPort === undefined ? undefined : await startOpsServer({ port: options.opsPort, host: options.opsHost, telemetry, ready: () => ready });
  log.info('table_committer_started', { committer: options.committerId, catalog: options.catalogUri, warehouse: options.warehouse, namespace: options.namespace, subscription: options.subscription, ops: ops?.url, fault: options.fault });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    ready = false;
    const deadline = new Deadline(performance.now() + options.shutdownTimeoutMs);
    setTimeout(() => process.exit(1), options.shutdownTimeoutMs + 250).unref();
    const stopped = await deadline.race(committer.stop());
    await deadline.race(Promise.allSettled([telemetry.shutdown(), pubsub.close(), bucket.close(), ...(ops ? [ops.close()] : [])]));
    log.info('shutdown_finished', { signal, committer: stopped.status });
    process.exit(stopped.status === 'done' ? 0 : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log.error('table_committer_start_failed', { error: (err as Error).message });
  process.exit(1);
}
