// Every option of the publisher SDK, with units and defaults, resolved and validated once.
import type { PubSub } from '@google-cloud/pubsub';
import { HourglassError } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { codecUnavailable, isCodecName, type CodecName } from '../wire/codecs.ts';
import { DEFAULT_TOPIC_PREFIX } from '../wire/topics.ts';
import { assertWindowLength } from '../wire/window.ts';
import { DEFAULT_MAX_LINGER_MS } from './adaptive-linger.ts';
import { eventIdScopeProblem } from './event-id-scope.ts';

/** The periodic heartbeat's interval (ms): how soon a checker can tell this publisher is alive (windows also get one right after they end). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000;

export interface PublisherOptions {
  /** The event types this publisher may send. */
  readonly registry: Registry;
  /** Pub/Sub client (the caller owns it and closes it). */
  readonly pubsub: PubSub;
  /** Topic name prefix. Default: "hourglass-". */
  readonly topicPrefix?: string;
  /** Window length (s); must divide a day. Default: 3600. */
  readonly windowLengthS?: number;
  /**
   * The service publishing: set it to your service's name ("playlist-service"). It scopes client event ids
   * (delivered as "<origin>:<eventId>", de-duplicated only against the same origin's), so keep it stable across
   * restarts and distinct from other services'; heartbeats show it as "<origin>@<host>". 1..63 characters of
   * A-Z a-z 0-9 _ . -. Default: "sdk" (shared by every publisher that leaves it unset).
   */
  readonly origin?: string;
  /** Publisher id. Default: a new random id (one per process incarnation). */
  readonly publisherId?: string;
  /** Block codec of the message data. Default: "deflate". */
  readonly codec?: CodecName;
  /** Most events in one message. Default: 1000. */
  readonly maxBatchEvents?: number;
  /** Most uncompressed bytes in one message. Default: 1 MiB (Pub/Sub allows 10 MB). */
  readonly maxBatchBytes?: number;
  /**
   * A fixed linger: how long a batch waits for more events after its first (ms); 0 sends it on the next timer
   * tick. Default: none, the linger adapts to each type's rate within maxLingerMs (see adaptive-linger.ts).
   */
  readonly lingerMs?: number;
  /**
   * Latency budget of the adaptive linger (ms): a batch of a type that fills slowly waits up to this long for
   * more events; a type that fills a message sooner waits less, and one too sparse to gain from waiting does
   * not wait. Not with lingerMs. Default: 250.
   */
  readonly maxLingerMs?: number;
  /** Largest encoded event (bytes); larger ones are refused. Default: 512 KiB. */
  readonly maxEventBytes?: number;
  /** Bytes accepted but not yet acknowledged before publish() waits (backpressure). Default: 64 MiB. */
  readonly maxBufferedBytes?: number;
  /** How long a message is retried before its events are failed (ms). Default: 60000. */
  readonly publishDeadlineMs?: number;
  /** Time limit of one publish attempt (ms). Default: 10000. */
  readonly attemptTimeoutMs?: number;
  /** First retry delay (ms). Default: 100. */
  readonly initialBackoffMs?: number;
  /** Ceiling of a retry delay (ms). Default: 5000. */
  readonly maxBackoffMs?: number;
  /** Interval between heartbeats (ms). Default: DEFAULT_HEARTBEAT_INTERVAL_MS (2000). */
  readonly heartbeatIntervalMs?: number;
  /** Clock for receive times and heartbeats. Default: the system clock. */
  readonly clock?: Clock;
}

export type ResolvedPublisherOptions = Required<Omit<PublisherOptions, 'publisherId' | 'lingerMs'>> & {
  publisherId: string | undefined;
  /** The fixed linger; undefined when the linger adapts (the default). */
  lingerMs: number | undefined;
};

export function resolvePublisherOptions(o: PublisherOptions): ResolvedPublisherOptions {
  const resolved: ResolvedPublisherOptions = {
    registry: o.registry,
    pubsub: o.pubsub,
    topicPrefix: o.topicPrefix ?? DEFAULT_TOPIC_PREFIX,
    windowLengthS: o.windowLengthS ?? 3600,
    origin: o.origin ?? 'sdk',
    publisherId: o.publisherId,
    codec: o.codec ?? 'deflate',
    maxBatchEvents: o.maxBatchEvents ?? 1000,
    maxBatchBytes: o.maxBatchBytes ?? 1024 * 1024,
    lingerMs: o.lingerMs,
    maxLingerMs: o.maxLingerMs ?? DEFAULT_MAX_LINGER_MS,
    maxEventBytes: o.maxEventBytes ?? 512 * 1024,
    maxBufferedBytes: o.maxBufferedBytes ?? 64 * 1024 * 1024,
    publishDeadlineMs: o.publishDeadlineMs ?? 60_000,
    attemptTimeoutMs: o.attemptTimeoutMs ?? 10_000,
    initialBackoffMs: o.initialBackoffMs ?? 100,
    maxBackoffMs: o.maxBackoffMs ?? 5000,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    clock: o.clock ?? systemClock,
  };
  const bad = (what: string): never => {
    throw new HourglassError('HG_CONFIG_INVALID', `publisher options: ${what}`);
  };
  try {
    assertWindowLength(resolved.windowLengthS);
  } catch (err) {
    bad((err as Error).message);
  }
  if (!isCodecName(resolved.codec)) bad(`unknown codec ${JSON.stringify(resolved.codec)}`);
  // At construction, not on the first batch: a codec whose native binding is missing fails here, with its remedy.
  const unavailable = codecUnavailable(resolved.codec);
  if (unavailable) bad(unavailable);
  const originProblem = eventIdScopeProblem(resolved.origin);
  if (originProblem) bad(`origin (the scope of its client event ids): ${originProblem}`);
  for (const key of ['maxBatchEvents', 'maxBatchBytes', 'maxLingerMs', 'maxEventBytes', 'maxBufferedBytes', 'publishDeadlineMs', 'attemptTimeoutMs', 'initialBackoffMs', 'maxBackoffMs', 'heartbeatIntervalMs'] as const) {
    const v = resolved[key];
    if (!Number.isFinite(v) || v <= 0) bad(`${key} must be a positive number, got ${v}`);
  }
  if (resolved.lingerMs !== undefined && (!Number.isFinite(resolved.lingerMs) || resolved.lingerMs < 0)) {
    bad(`lingerMs must be a number ≥ 0, got ${resolved.lingerMs}`);
  }
  if (resolved.lingerMs !== undefined && o.maxLingerMs !== undefined) bad('set lingerMs (a fixed linger) or maxLingerMs (the budget of the adaptive one), not both');
  if (resolved.maxBatchBytes > 9 * 1024 * 1024) bad('maxBatchBytes must stay under Pub/Sub\'s 10 MB message limit');
  if (resolved.maxEventBytes > resolved.maxBatchBytes) bad('maxEventBytes must not exceed maxBatchBytes');
  if (resolved.publisherId !== undefined && !/^[A-Za-z0-9_.:-]{1,100}$/.test(resolved.publisherId)) bad('publisherId must match [A-Za-z0-9_.:-]{1,100}');
  return resolved;
}
