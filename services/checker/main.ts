// Process entry of the checker: configuration from the environment, metrics and health endpoints, one log line per closed window, graceful stop.
//
// SIGTERM (Cloud Run sends SIGKILL 10 s later): the whole path, from the signal to the exit, runs inside
// options.shutdownTimeoutMs (HOURGLASS_SHUTDOWN_TIMEOUT_MS, default 9000), each step by its own deadline,
// cut from that one budget (reserve = min(1 s, budget / 6)):
//   checker.stop()  (the round in progress, compactions, last heartbeat snapshot, control subscription)  until budget − 2·reserve (7 s)
//   announcements   (the closed-windows topic's pending publishes)                                        until budget − reserve   (8 s)
//   teardown        (ops server, telemetry, Pub/Sub client, storage, at once)                              until budget             (9 s)
// What is not finished by its deadline is abandoned, and that is safe: a window's close writes its parts
// aside and commits with a create-only _MANIFEST.json; a close stopped before the commit leaves an attempt
// folder that the window's close removes, one stopped after it is finished by the next round of any replica
// (Checker re-runs closeWindow on a committed manifest), so a stop mid-close loses nothing and never tears a
// window. Heartbeats are acked only once a saved snapshot holds them, so those not saved come again; a
// window announced but not marked is announced again (its dedupKey makes the duplicate harmless); a segment
// compaction cut short is a cache, never the only copy. One {"event":"shutdown_finished",…} line says what
// finished, what was abandoned and how long it took. Exit 0 when every step finished in time, 1 when one was
// abandoned, or on a second signal.
import { PubSub } from '@google-cloud/pubsub';
import { metrics } from '@opentelemetry/api';
import { Deadline, shutdownReserveMs, type StepOutcome } from '../concurrency/deadline.ts';
import { Registry } from '../registry/registry.ts';
import { configOrExit } from '../config/config-or-exit.ts';
import { telemetryOptionsOf } from '../config/shared-settings.ts';
import { emulatorClient } from '../local-stack/local-stack.ts';
import { CountedStorage } from '../storage/counted-storage.ts';
import { faultOptionsFrom } from '../storage/faulty-storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startOpsServer } from '../telemetry/ops-server.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { Checker } from './checker.ts';
import { resolveCheckerOptions } from './checker-options.ts';
import { stagingAgeLines } from './staging-age-report.ts';
import { topicSink } from './window-announcer.ts';
import { topicNames } from '../wire/topics.ts';

const options = configOrExit(() => resolveCheckerOptions(process.env), (event, fields) => createLogger('checker').error(event, fields));
const log = createLogger('checker', { project: options.projectId });
/** How often the age of each type's oldest unclosed staging is logged (ms). */
const STAGING_AGE_LOG_INTERVAL_MS = 60_000;
/** How long past its budget a shutdown that did not end is cut short (ms). */
const BACKSTOP_MS = 250;
const telemetry = startTelemetry({ service: 'checker', ...telemetryOptionsOf(options) });

try {
  const registry = await Registry.load(options.schemasDir);
  const faults = faultOptionsFrom(options);
  // Counted: the bucket requests a round costs are a metric (hourglass.checker.storage.requests, by kind).
  const requests = metrics.getMeter('hourglass-checker').createCounter('hourglass.checker.storage.requests', {
    description: 'Requests to the bucket, by kind (list, get, get_range, stat, put, create_only, copy, delete)',
    unit: '{request}',
  });
  const storage = new CountedStorage(await openStorage(options.location, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined, faults }), requests);
  const pubsub = options.pubsubEmulatorHost ? emulatorClient(options.pubsubEmulatorHost, options.projectId) : new PubSub({ projectId: options.projectId });
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
    // Which types this replica closes, each time its share changes (a replica joined, stopped or died).
    onOwnership: ({ owned, replicas }) => log.info('types_owned', { checker: options.checkerId, owned: owned.length, types: owned.slice(0, 50), replicas }),
    onError: (error) => log.error('checker_round_failed', { error }),
    onOverdue: (ref, waitingOn) =>
      // The "window not closed" alert in infra/ counts these lines.
      log.warn('window_overdue', { code: 'HG_WINDOW_OVERDUE', type: ref.type, window: new Date(ref.index * ref.lengthS * 1000).toISOString(), waitingOn: waitingOn.slice(0, 20) }),
  });
  checker.start();
  // Cloud Run gives PORT; locally HOURGLASS_OPS_PORT (0 picks a free one). Without either, no ops server.
  let ready = true;
  const ops = options.opsPort === undefined ? undefined : await startOpsServer({ port: options.opsPort, host: options.opsHost, telemetry, ready: () => ready });
  log.info('checker_started', { checker: options.checkerId, location: storage.location, windowS: options.windowS, ops: ops?.url, ...(faults ? { injectedStorageFaults: faults } : {}) });
  // The "staging older than its max wait" alert in infra/ counts these lines (staging-age-report.ts).
  const stagingAgeTimer = setInterval(() => {
    const maxWaitS = (type: string) => (options.maxWaitMs ?? registry.require(type).config.maxWaitMs) / 1000;
    for (const line of stagingAgeLines(checker.unclosedStaging(), options.windowS, maxWaitS)) log.log(line.level, 'staging_age', line.fields);
  }, STAGING_AGE_LOG_INTERVAL_MS);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second signal means "now": what was not saved is read again by the next replica, nothing is lost.
      log.warn('forced_exit', { signal });
      process.exit(1);
    }
    stopping = true;
    ready = false;
    const startedMs = performance.now();
    const budgetMs = options.shutdownTimeoutMs;
    const reserveMs = shutdownReserveMs(budgetMs);
    const deadline = { checker: new Deadline(startedMs + budgetMs - 2 * reserveMs), announcements: new Deadline(startedMs + budgetMs - reserveMs), exit: new Deadline(startedMs + budgetMs) };
    // Every step below is bounded; this is the last resort, should something unbounded hold the process past its budget.
    setTimeout(() => {
      log.error('shutdown_deadline_passed', { signal, budgetMs });
      process.exit(1);
    }, budgetMs + BACKSTOP_MS).unref();
    log.info('checker_stopping', { signal, budgetMs, checkerByMs: budgetMs - 2 * reserveMs, announcementsByMs: budgetMs - reserveMs });
    clearInterval(stagingAgeTimer);
    const outcomes: Array<[string, StepOutcome<unknown>]> = [];
    // 1. The round in progress ends (or is abandoned mid-way: safe, see above), the last snapshot is saved, the subscription closed.
    outcomes.push(['checker', await deadline.checker.race(checker.stop())]);
    // 2. Announcements still batched go out before the client closes.
    if (closedTopic) outcomes.push(['announcements', await deadline.announcements.race(closedTopic.close())]);
    // 3. The process's own clients, at once.
    const teardown: Array<[string, Promise<unknown>]> = [
      ['telemetry', telemetry.shutdown()],
      ['pubsub_client', pubsub.close()],
      ['storage', storage.close()],
      ...(ops ? [['ops_server', ops.close()] as [string, Promise<unknown>]] : []),
    ];
    outcomes.push(...(await Promise.all(teardown.map(async ([name, step]) => [name, await deadline.exit.race(step)] as [string, StepOutcome<unknown>]))));
    const abandoned = outcomes.filter(([, o]) => o.status !== 'done').map(([name]) => name);
    const errors = Object.fromEntries(outcomes.flatMap(([name, o]) => (o.status === 'failed' ? [[name, (o.error as Error)?.message ?? String(o.error)]] : [])));
    log.log(abandoned.length === 0 ? 'info' : 'warn', 'shutdown_finished', {
      signal,
      budgetMs,
      tookMs: Math.round(performance.now() - startedMs),
      finished: outcomes.filter(([, o]) => o.status === 'done').map(([name]) => name),
      abandoned,
      ...(Object.keys(errors).length > 0 ? { errors } : {}),
    });
    process.exit(abandoned.length === 0 ? 0 : 1);
  };
  const onSignal = (signal: string) =>
    void shutdown(signal).catch((err: unknown) => {
      log.error('shutdown_failed', { signal, error: (err as Error).stack ?? String(err) });
      process.exit(1);
    });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
} catch (err) {
  log.error('checker_start_failed', { error: (err as Error).message });
  process.exit(1);
}
