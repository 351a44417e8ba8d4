// Process entry of the checker: configuration from the environment, metrics and health endpoints, one log line per closed window, graceful stop.
import { PubSub } from '@google-cloud/pubsub';
import { Registry } from '../registry/registry.ts';
import { faultOptionsFromEnv } from '../storage/faulty-storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startOpsServer } from '../telemetry/ops-server.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { Checker } from './checker.ts';
import { resolveCheckerOptions } from './checker-options.ts';
import { stagingAgeLines } from './staging-age-report.ts';
import { topicSink } from './window-announcer.ts';
import { topicNames } from '../wire/topics.ts';

const log = createLogger('checker');
/** How often the age of each type's oldest unclosed staging is logged (ms). */
const STAGING_AGE_LOG_INTERVAL_MS = 60_000;
const telemetry = startTelemetry({ service: 'checker', otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined });

try {
  const options = resolveCheckerOptions(process.env);
  const registry = await Registry.load(process.env.HOURGLASS_SCHEMAS_DIR || undefined);
  const faults = faultOptionsFromEnv(process.env);
  const storage = await openStorage(options.location, { gcsEndpoint: options.gcsEndpoint, projectId: process.env.HOURGLASS_PROJECT, faults });
  const pubsub = new PubSub({ projectId: process.env.HOURGLASS_PROJECT ?? process.env.GOOGLE_CLOUD_PROJECT ?? 'hourglass-local' });
  const closedTopic = options.announceClosed ? topicSink(pubsub, topicNames(options.topicPrefix).closedWindowsTopic) : undefined;
  const checker = new Checker({
    registry,
    storage,
    pubsub,
    options,
    ...(closedTopic ? { announce: closedTopic.send } : {}),
    onClosed: (m, path) =>
      log.log(m.status === 'complete' ? 'info' : 'warn', 'window_closed', {
        // The alerts in infra/ count these lines by code (close delay, lost events).
        code: 'HG_WINDOW_CLOSED',
        type: m.type,
        window: m.windowStart,
        status: m.status,
        events: m.events,
        lostEvents: m.lostEvents,
        abandonedEvents: m.abandonedEvents,
        duplicatesDropped: m.duplicatesDropped,
        closeDelayMs: Math.round(m.closeDelayMs),
        proofDelayMs: m.proofDelayMs === undefined ? undefined : Math.round(m.proofDelayMs),
        closer: m.closer,
        path: `${storage.location}/${path}`,
      }),
    onOverdue: (ref, waitingOn) =>
      // The "window not closed" alert in infra/ counts these lines.
      log.warn('window_overdue', { code: 'HG_WINDOW_OVERDUE', type: ref.type, window: new Date(ref.index * ref.lengthS * 1000).toISOString(), waitingOn: waitingOn.slice(0, 20) }),
  });
  checker.start();
  // Cloud Run gives PORT; locally HOURGLASS_OPS_PORT (0 picks a free one). Without either, no ops server.
  const opsPort = process.env.HOURGLASS_OPS_PORT ?? process.env.PORT;
  const ops = opsPort === undefined ? undefined : await startOpsServer({ port: Number(opsPort), host: process.env.HOURGLASS_OPS_HOST ?? (process.env.PORT ? '0.0.0.0' : '127.0.0.1'), telemetry, ready: () => true });
  log.info('checker_started', { checker: options.checkerId, location: storage.location, windowS: options.windowS, ops: ops?.url, ...(faults ? { injectedStorageFaults: faults } : {}) });
  let reported = 0;
  const errorTimer = setInterval(() => {
    for (const e of checker.errors.slice(reported)) log.error('checker_round_failed', { error: e });
    reported = checker.errors.length;
  }, 1000);
  // The "staging older than its max wait" alert in infra/ counts these lines (staging-age-report.ts).
  const stagingAgeTimer = setInterval(() => {
    const maxWaitS = (type: string) => (options.maxWaitMs ?? registry.require(type).config.maxWaitMs) / 1000;
    for (const line of stagingAgeLines(checker.unclosedStaging(), options.windowS, maxWaitS)) log.log(line.level, 'staging_age', line.fields);
  }, STAGING_AGE_LOG_INTERVAL_MS);
  const shutdown = async (signal: string) => {
    log.info('checker_stopping', { signal });
    clearInterval(errorTimer);
    clearInterval(stagingAgeTimer);
    await checker.stop();
    await closedTopic?.close();
    await ops?.close();
    await telemetry.shutdown();
    await pubsub.close();
    await storage.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log.error('checker_start_failed', { error: (err as Error).message });
  process.exit(1);
}
