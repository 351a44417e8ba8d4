// The worker's configuration schema: every option with its environment variable, unit, default and range (services/config), resolved and checked once at start-up.
//
// Precedence, written once (services/config/settings.ts): an explicit value, then the environment, then the
// default. Nothing else in the worker reads process.env.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { faultSettings } from '../config/fault-settings.ts';
import { flag, integer, listOf, oneOf, text } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { bucket, gcsEndpoint, opsSettings, project, pubsubEmulatorHost, schemasDir, shutdownTimeoutMs, telemetrySettings, topicPrefix, windowS } from '../config/shared-settings.ts';
import { TYPE_NAME_PATTERN } from '../registry/type-name.ts';
import { CODEC_NAMES, DEFAULT_MAX_OUTPUT_BYTES, type CodecName } from '../wire/codecs.ts';

const MiB = 1024 * 1024;

export const WORKER_SETTINGS = settings({
  storageLocation: bucket,
  gcsEndpoint,
  pubsubEmulatorHost,
  projectId: project,
  windowLengthS: windowS,
  schemasDir,
  topicPrefix,
  types: setting<readonly string[] | undefined>({
    doc: 'Event types to pull (a subset of the registry).',
    kind: listOf(text(TYPE_NAME_PATTERN, 'a type name'), 'type names'),
    env: ['HOURGLASS_TYPES'],
    defaultText: 'every type in the registry',
  }),
  workerId: setting<string>({
    doc: "This worker incarnation's id; it names its staging files, so it must be unique among running workers.",
    kind: text(/^[A-Za-z0-9_.-]{1,64}$/, '1 to 64 of A-Z a-z 0-9 _ . -'),
    env: ['HOURGLASS_WORKER_ID'],
    default: () => defaultWorkerId(),
    defaultText: '<host>-<12 random hex>',
  }),
  maxFileBytes: setting<number>({
    doc: 'A staging file is written once it holds this many bytes.',
    kind: integer(1, 1024 * MiB, 'bytes'),
    env: ['HOURGLASS_WORKER_MAX_FILE_BYTES'],
    default: 32 * MiB,
  }),
  maxFileAgeMs: setting<number>({
    doc: 'A staging file is written at the latest this long after its first message arrived.',
    kind: integer(1, 3_600_000, 'ms'),
    env: ['HOURGLASS_WORKER_MAX_FILE_AGE_MS'],
    default: 1000,
  }),
  codec: setting<CodecName | undefined>({
    doc: "Codec of the staging files. Unset keeps each message's own codec (its bytes are copied, never recompressed: the fast path).",
    kind: oneOf(CODEC_NAMES as readonly [CodecName, ...CodecName[]]),
    env: ['HOURGLASS_WORKER_CODEC'],
    defaultText: "each message's own",
  }),
  maxBlockBytes: setting<number>({
    doc: 'Largest decompressed message body accepted; larger ones are dead-lettered.',
    kind: integer(1, 1024 * MiB, 'bytes'),
    default: DEFAULT_MAX_OUTPUT_BYTES,
  }),
  maxMessagesPerSubscription: setting<number>({
    doc: 'Flow control per subscription: most messages held (received, not yet acked).',
    kind: integer(1, 1_000_000),
    default: 2000,
  }),
  maxBytesPerSubscription: setting<number>({
    doc: 'Flow control per subscription: most message bytes held.',
    kind: integer(1, 16 * 1024 * MiB, 'bytes'),
    default: 64 * MiB,
  }),
  streamsPerSubscription: setting<number>({
    doc: 'Streaming-pull streams per subscription.',
    kind: integer(1, 64),
    env: ['HOURGLASS_WORKER_STREAMS'],
    default: 2,
  }),
  maxBufferedBytes: setting<number>({
    doc: 'Across all subscriptions: once open staging files hold this many bytes, the largest are written at once.',
    kind: integer(1, 64 * 1024 * MiB, 'bytes'),
    default: 256 * MiB,
  }),
  announceStaged: setting<boolean>({
    doc: 'Publish a notice of each staged file on the topic <prefix>staged, so checkers learn of it without listing the bucket (best effort: a lost notice costs a checker a listing, never an event).',
    kind: flag(),
    env: ['HOURGLASS_WORKER_ANNOUNCE_STAGED'],
    default: true,
  }),
  flushCheckIntervalMs: setting<number>({ doc: 'How often open files are checked for age and ended windows.', kind: integer(1, 60_000, 'ms'), default: 100 }),
  writeRetryDeadlineMs: setting<number>({ doc: 'How long a failing write is retried before its messages are nacked for redelivery.', kind: integer(1, 3_600_000, 'ms'), default: 30_000 }),
  initialBackoffMs: setting<number>({ doc: 'First retry delay of a failed write.', kind: integer(1, 600_000, 'ms'), default: 100 }),
  maxBackoffMs: setting<number>({ doc: 'Ceiling of a retry delay.', kind: integer(1, 600_000, 'ms'), default: 5000 }),
  shutdownTimeoutMs,
  ...opsSettings,
  ...telemetrySettings,
  ...faultSettings,
});

export type WorkerOptions = { readonly [K in keyof typeof WORKER_SETTINGS]?: Resolved<typeof WORKER_SETTINGS>[K] };
export type ResolvedWorkerOptions = Resolved<typeof WORKER_SETTINGS>;

/** Resolves options from explicit values, then `env`, then defaults; throws HG_CONFIG_INVALID listing every problem. */
export function resolveWorkerOptions(env: Readonly<Record<string, string | undefined>> = {}, overrides: WorkerOptions = {}): ResolvedWorkerOptions {
  const o = resolveSettings('worker', WORKER_SETTINGS, {
    env,
    overrides,
    check: (r) => (r.initialBackoffMs > r.maxBackoffMs ? [`initialBackoffMs (${r.initialBackoffMs}) must not exceed maxBackoffMs (${r.maxBackoffMs})`] : []),
  });
  return Object.freeze({ ...o, storageLocation: absoluteFileLocation(o.storageLocation) });
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
