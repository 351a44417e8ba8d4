// Process entry of the checker: configuration from the environment, one JSON log line per closed window, graceful stop.
import { PubSub } from '@google-cloud/pubsub';
import { Registry } from '../registry/registry.ts';
import { openStorage } from '../storage/open-storage.ts';
import { Checker } from './checker.ts';
import { resolveCheckerOptions } from './checker-options.ts';

const log = (level: string, msg: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), service: 'checker', msg, ...fields })}\n`);

try {
  const options = resolveCheckerOptions(process.env);
  const registry = await Registry.load(process.env.HOURGLASS_SCHEMAS_DIR || undefined);
  const storage = await openStorage(options.location, { gcsEndpoint: options.gcsEndpoint, projectId: process.env.HOURGLASS_PROJECT });
  const pubsub = new PubSub({ projectId: process.env.HOURGLASS_PROJECT ?? process.env.GOOGLE_CLOUD_PROJECT ?? 'hourglass-local' });
  const checker = new Checker({
    registry,
    storage,
    pubsub,
    options,
    onClosed: (m, path) =>
      log(m.status === 'complete' ? 'info' : 'warn', 'window closed', {
        event: 'window_closed',
        type: m.type,
        window: m.windowStart,
        status: m.status,
        events: m.events,
        lost: m.lostEvents,
        abandoned: m.abandonedEvents,
        duplicatesDropped: m.duplicatesDropped,
        closeDelayMs: Math.round(m.closeDelayMs),
        path: `${storage.location}/${path}`,
      }),
  });
  checker.start();
  log('info', 'checker started', { checker: options.checkerId, location: storage.location, windowS: options.windowS });
  let reported = 0;
  const errorTimer = setInterval(() => {
    for (const e of checker.errors.slice(reported)) log('error', 'checker round failed', { event: 'checker_round_failed', error: e });
    reported = checker.errors.length;
  }, 1000);
  const shutdown = async (signal: string) => {
    log('info', 'checker stopping', { signal });
    clearInterval(errorTimer);
    await checker.stop();
    await pubsub.close();
    await storage.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log('error', 'checker failed to start', { error: (err as Error).message });
  process.exit(1);
}
