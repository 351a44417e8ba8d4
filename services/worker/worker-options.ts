// Every option of the streaming ETL worker, with units and defaults, resolved and validated once at start-up.
//
// Precedence, written once here: an explicit value (overrides), then the environment, then the default.
// Nothing else in the worker reads process.env.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HourglassError } from '../errors/catalogue.ts';
import { isValidTypeName } from '../registry/type-name.ts';
import { DEFAULT_MAX_OUTPUT_BYTES, isCodecName, type CodecName } from '../wire/codecs.ts';
import { DEFAULT_TOPIC_PREFIX } from '../wire/topics.ts';
import { assertWindowLength } from '../wire/window.ts';
import { DEFAULT_SHUTDOWN_BUDGET_MS } from './shutdown-budget.ts';

/** The largest shutdown budget accepted (ms). */
const MAX_SHUTDOWN_BUDGET_MS = 3_600_000;

export interface WorkerOptions {
  /** Where staging files and dead letters go: file:///path, a plain path, or gs://bucket/prefix. Env HOURGLASS_BUCKET. Default: file://./.hourglass-data (relative to the working directory). */
  readonly storageLocation?: string;
  /** GCS API endpoint, e.g. fake-gcs-server's http://127.0.0.1:4443. Env HOURGLASS_GCS_ENDPOINT. Default: Google's. */
  readonly gcsEndpoint?: string;
  /** Pub/Sub emulator host:port. Env PUBSUB_EMULATOR_HOST. Default: none (real Pub/Sub). */
  readonly pubsubEmulatorHost?: string;
  /** Google Cloud project of the subscriptions. Env HOURGLASS_PROJECT. Default: "hourglass-local". */
  readonly projectId?: string;
  /** Window length (s), the same the publishers use; must divide a day. Env HOURGLASS_WINDOW_S. Default: 3600. */
  readonly windowLengthS?: number;
  /** Topic and subscription name prefix. Env HOURGLASS_TOPIC_PREFIX. Default: "hourglass-". */
  readonly topicPrefix?: string;
  /** Event types to pull (a subset of the registry). Env HOURGLASS_TYPES, comma-separated. Default: every type in the registry. */
  readonly types?: readonly string[];
  /** This worker incarnation's id; it names its staging files, so it must be unique among running workers. Env HOURGLASS_WORKER_ID. Default: "<host>-<random>". */
  readonly workerId?: string;
  /** A staging file is written once it holds this many bytes (bytes). Env HOURGLASS_WORKER_MAX_FILE_BYTES. Default: 32 MiB. */
  readonly maxFileBytes?: number;
  /** A staging file is written at the latest this long after its first message arrived (ms). Env HOURGLASS_WORKER_MAX_FILE_AGE_MS. Default: 1000. */
  readonly maxFileAgeMs?: number;
  /**
   * Codec of the staging files. Env HOURGLASS_WORKER_CODEC. Default: undefined, which keeps each
   * message's own codec: its bytes are copied into the file, never recompressed (the fast path).
   * When set, messages sent with another codec are recompressed with this one.
   */
  readonly codec?: CodecName;
  /** Largest decompressed message body accepted (bytes); larger ones are dead-lettered. Default: 64 MiB. */
  readonly maxBlockBytes?: number;
  /** Flow control per subscription: most messages held (received, not yet acked). Default: 2000. */
  readonly maxMessagesPerSubscription?: number;
  /** Flow control per subscription: most message bytes held. Default: 64 MiB. */
  readonly maxBytesPerSubscription?: number;
  /** Streaming-pull streams per subscription. Env HOURGLASS_WORKER_STREAMS. Default: 2. */
  readonly streamsPerSubscription?: number;
  /** Across all subscriptions: once open staging files hold this many bytes, the largest are written at once. Default: 256 MiB. */
  readonly maxBufferedBytes?: number;
  /** How often open files are checked for age and ended windows (ms). Default: 100. */
  readonly flushCheckIntervalMs?: number;
  /** How long a failing write is retried before its messages are nacked for redelivery (ms). Default: 30000. */
  readonly writeRetryDeadlineMs?: number;
  /** First retry delay of a failed write (ms). Default: 100. */
  readonly initialBackoffMs?: number;
  /** Ceiling of a retry delay (ms). Default: 5000. */
  readonly maxBackoffMs?: number;
  /**
   * Budget of the whole SIGTERM path (ms): stop pulling, write and ack what is held, release the
   * subscriptions, close the clients, exit. Split into a deadline per step (shutdown-budget.ts: with
   * 9000, writes until 7 s, release until 8 s, exit by 9 s); what is not written by its deadline is
   * nacked, so Pub/Sub delivers it again. Also the default budget of stop(). Cloud Run sends SIGKILL
   * 10 s after SIGTERM: keep it below 10000 there. Env HOURGLASS_SHUTDOWN_TIMEOUT_MS (a whole number,
   * 1..3600000). Default: 9000.
   */
  readonly shutdownTimeoutMs?: number;
}

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, 'gcsEndpoint' | 'pubsubEmulatorHost' | 'types' | 'codec'>> & {
  readonly gcsEndpoint: string | undefined;
  readonly pubsubEmulatorHost: string | undefined;
  /** undefined = every type in the registry. */
  readonly types: readonly string[] | undefined;
  /** undefined = keep each message's codec. */
  readonly codec: CodecName | undefined;
};

export const DEFAULT_STORAGE_LOCATION = 'file://./.hourglass-data';

/** The environment variables the worker reads, by option. */
export const WORKER_ENV = {
  storageLocation: 'HOURGLASS_BUCKET',
  gcsEndpoint: 'HOURGLASS_GCS_ENDPOINT',
  pubsubEmulatorHost: 'PUBSUB_EMULATOR_HOST',
  projectId: 'HOURGLASS_PROJECT',
  windowLengthS: 'HOURGLASS_WINDOW_S',
  topicPrefix: 'HOURGLASS_TOPIC_PREFIX',
  types: 'HOURGLASS_TYPES',
  workerId: 'HOURGLASS_WORKER_ID',
  maxFileBytes: 'HOURGLASS_WORKER_MAX_FILE_BYTES',
  maxFileAgeMs: 'HOURGLASS_WORKER_MAX_FILE_AGE_MS',
  codec: 'HOURGLASS_WORKER_CODEC',
  streamsPerSubscription: 'HOURGLASS_WORKER_STREAMS',
  shutdownTimeoutMs: 'HOURGLASS_SHUTDOWN_TIMEOUT_MS',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Resolves options from explicit values, then `env`, then defaults; throws HG_CONFIG_INVALID listing every problem. */
export function resolveWorkerOptions(env: Env = {}, overrides: WorkerOptions = {}): ResolvedWorkerOptions {
  const problems: string[] = [];
  const str = (key: keyof typeof WORKER_ENV): string | undefined => {
    const raw = env[WORKER_ENV[key]];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const num = (key: keyof typeof WORKER_ENV): number | undefined => {
    const raw = str(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) problems.push(`${WORKER_ENV[key]} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  };
  const envTypes = str('types')
    ?.split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const envCodec = str('codec');

  const o: ResolvedWorkerOptions = {
    storageLocation: absoluteFileLocation(overrides.storageLocation ?? str('storageLocation') ?? DEFAULT_STORAGE_LOCATION),
    gcsEndpoint: overrides.gcsEndpoint ?? str('gcsEndpoint'),
    pubsubEmulatorHost: overrides.pubsubEmulatorHost ?? str('pubsubEmulatorHost'),
    projectId: overrides.projectId ?? str('projectId') ?? 'hourglass-local',
    windowLengthS: overrides.windowLengthS ?? num('windowLengthS') ?? 3600,
    topicPrefix: overrides.topicPrefix ?? str('topicPrefix') ?? DEFAULT_TOPIC_PREFIX,
    types: overrides.types ?? envTypes,
    workerId: overrides.workerId ?? str('workerId') ?? defaultWorkerId(),
    maxFileBytes: overrides.maxFileBytes ?? num('maxFileBytes') ?? 32 * 1024 * 1024,
    maxFileAgeMs: overrides.maxFileAgeMs ?? num('maxFileAgeMs') ?? 1000,
    codec: overrides.codec ?? (envCodec as CodecName | undefined),
    maxBlockBytes: overrides.maxBlockBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxMessagesPerSubscription: overrides.maxMessagesPerSubscription ?? 2000,
    maxBytesPerSubscription: overrides.maxBytesPerSubscription ?? 64 * 1024 * 1024,
    streamsPerSubscription: overrides.streamsPerSubscription ?? num('streamsPerSubscription') ?? 2,
    maxBufferedBytes: overrides.maxBufferedBytes ?? 256 * 1024 * 1024,
    flushCheckIntervalMs: overrides.flushCheckIntervalMs ?? 100,
    writeRetryDeadlineMs: overrides.writeRetryDeadlineMs ?? 30_000,
    initialBackoffMs: overrides.initialBackoffMs ?? 100,
    maxBackoffMs: overrides.maxBackoffMs ?? 5000,
    shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? num('shutdownTimeoutMs') ?? DEFAULT_SHUTDOWN_BUDGET_MS,
  };

  try {
    assertWindowLength(o.windowLengthS);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (o.types !== undefined) {
    if (o.types.length === 0) problems.push('types: an empty list pulls nothing (leave it unset for every type)');
    for (const t of o.types) if (!isValidTypeName(t)) problems.push(`types: ${JSON.stringify(t)} is not a valid type name`);
  }
  if (o.codec !== undefined && !isCodecName(o.codec)) problems.push(`codec: unknown codec ${JSON.stringify(o.codec)}`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(o.workerId)) problems.push(`workerId must match [A-Za-z0-9_.-]{1,64}, got ${JSON.stringify(o.workerId)}`);
  // Pub/Sub names start with a letter and use letters, digits and -_.~+%; the type name follows the prefix.
  if (o.topicPrefix !== '' && !/^[A-Za-z][A-Za-z0-9\-_.~+%]{0,100}$/.test(o.topicPrefix)) {
    problems.push(`topicPrefix ${JSON.stringify(o.topicPrefix)} is not a usable Pub/Sub name prefix`);
  }
  if (o.pubsubEmulatorHost !== undefined && !/^[^:/\s]+:\d{1,5}$/.test(o.pubsubEmulatorHost)) {
    problems.push(`pubsubEmulatorHost must be host:port, got ${JSON.stringify(o.pubsubEmulatorHost)}`);
  }
  const positive = [
    'maxFileBytes', 'maxFileAgeMs', 'maxBlockBytes', 'maxMessagesPerSubscription', 'maxBytesPerSubscription',
    'streamsPerSubscription', 'maxBufferedBytes', 'flushCheckIntervalMs', 'writeRetryDeadlineMs', 'initialBackoffMs',
    'maxBackoffMs', 'shutdownTimeoutMs',
  ] as const;
  for (const key of positive) {
    const v = o[key];
    if (!Number.isFinite(v) || v <= 0) problems.push(`${key} must be a positive number, got ${v}`);
  }
  for (const key of ['maxMessagesPerSubscription', 'streamsPerSubscription', 'shutdownTimeoutMs'] as const) {
    if (!Number.isInteger(o[key])) problems.push(`${key} must be a whole number, got ${o[key]}`);
  }
  if (o.shutdownTimeoutMs > MAX_SHUTDOWN_BUDGET_MS) problems.push(`shutdownTimeoutMs (${WORKER_ENV.shutdownTimeoutMs}) must be at most ${MAX_SHUTDOWN_BUDGET_MS}, got ${o.shutdownTimeoutMs}`);
  if (o.initialBackoffMs > o.maxBackoffMs) problems.push('initialBackoffMs must not exceed maxBackoffMs');

  if (problems.length > 0) {
    throw new HourglassError('HG_CONFIG_INVALID', `worker options: ${problems.join('; ')}`, { details: problems });
  }
  return Object.freeze(o);
}

/** file://relative/dir (not a valid file URL) as an absolute file:/// URL, resolved against the working directory once. */
function absoluteFileLocation(location: string): string {
  if (!location.startsWith('file://') || location.startsWith('file:///')) return location;
  return pathToFileURL(path.resolve(location.slice('file://'.length))).href;
}

/** "<host>-<12 hex>": readable in staging keys, unique per process incarnation. */
function defaultWorkerId(): string {
  const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 24) || 'worker';
  return `${host}-${randomBytes(6).toString('hex')}`;
}
