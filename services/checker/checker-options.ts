// Every option of the checker, with units and defaults, resolved once from explicit values, then the environment.
import { HourglassError } from '../errors/catalogue.ts';
import { isCodecName, type CodecName } from '../wire/codecs.ts';
import { DEFAULT_TOPIC_PREFIX } from '../wire/topics.ts';
import { assertWindowLength } from '../wire/window.ts';

export interface CheckerOptions {
  /** Storage location: file:///path or gs://bucket/prefix. Env HOURGLASS_BUCKET. Default: file://./.hourglass-data */
  readonly location: string;
  /** fake-gcs-server endpoint for gs:// locations. Env HOURGLASS_GCS_ENDPOINT. */
  readonly gcsEndpoint?: string;
  /** Window length (s). Env HOURGLASS_WINDOW_S. Default: 3600. */
  readonly windowS: number;
  /** Env HOURGLASS_TOPIC_PREFIX. Default: "hourglass-". */
  readonly topicPrefix: string;
  /** Id of this checker replica (for its state files and manifests). Default: random. */
  readonly checkerId: string;
  /** Interval between close rounds (ms). Env HOURGLASS_CHECKER_TICK_MS. Default: 500. */
  readonly tickMs: number;
  /** Largest part file (bytes); a big window is several parts. Env HOURGLASS_MAX_PART_BYTES. Default: 256 MiB. */
  readonly maxPartBytes: number;
  /** Compact an open window once this many staged bytes are not yet in a segment (bytes). Env HOURGLASS_SEGMENT_BYTES. Default: 64 MiB. */
  readonly segmentBytes: number;
  /** Or once this many staged files are not yet in a segment (a small type stages few bytes but a file per second). Env HOURGLASS_SEGMENT_FILES. Default: 64. */
  readonly segmentFiles: number;
  /** Two records of a window with the same client event id are duplicates when received at most this far apart (s): the dedup state is bounded by it. Env HOURGLASS_CLIENT_ID_HORIZON_S. Default: 600. */
  readonly clientIdHorizonS: number;
  /** Codec of the closed windows' part files. Env HOURGLASS_OUTPUT_CODEC. Default: deflate. */
  readonly codec: CodecName;
  /**
   * A window closes only once the control topic has been read this far past its end (ms): covers Pub/Sub
   * delivering a new publisher's first heartbeat after messages published a little later, and a publisher's
   * clock running behind Pub/Sub's. Env HOURGLASS_DISCOVERY_MARGIN_MS. Default: 1000.
   */
  readonly discoveryMarginMs: number;
  /**
   * A staging file with no manifest is debris of a worker that died (or gave up) between writing the file
   * and its manifest: its messages were never acked and are staged again under another name. Once its
   * window is closed and it is this old, it is removed (ms). It must exceed the longest a worker can take
   * from the file to its manifest (its write deadline plus one storage request), or a manifest could land
   * naming a removed file. Env HOURGLASS_ORPHAN_AGE_S. Default: 600 s (the worker's deadline is 30 s).
   */
  readonly orphanAgeMs: number;
  /** How long a silent publisher is remembered (ms). Default: 2 days. */
  readonly publisherRetentionMs: number;
  /** Overrides every type's liveness timeout (ms), e.g. for tests. Env HOURGLASS_LIVENESS_MS. */
  readonly livenessTimeoutMs?: number;
  /** Overrides every type's max wait (ms). Env HOURGLASS_MAX_WAIT_MS. */
  readonly maxWaitMs?: number;
  /** Announce each closed window on the topic <prefix>closed-windows. Env HOURGLASS_ANNOUNCE_CLOSED ("true"/"false"). Default: true. */
  readonly announceClosed: boolean;
  /**
   * Budget of the whole SIGTERM path of the process (ms): the round in progress, the last heartbeat
   * snapshot, the announcements, the clients, the exit (main.ts splits it: with 9000, the checker's stop
   * until 7 s, the announcements until 8 s, exit by 9 s). What is unfinished then is abandoned, safely: a
   * close is create-only up to its manifest (the commit point) and idempotent after it, so the next round
   * of any replica finishes or redoes it; heartbeats not saved were not acked, so Pub/Sub delivers them
   * again. Cloud Run sends SIGKILL 10 s after SIGTERM: keep it below 10000 there.
   * Env HOURGLASS_SHUTDOWN_TIMEOUT_MS (a whole number, 1..3600000). Default: 9000.
   */
  readonly shutdownTimeoutMs: number;
}

/** Default of shutdownTimeoutMs: Cloud Run kills 10 s after SIGTERM; a second is left for the process to end. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 9000;
/** The largest shutdownTimeoutMs accepted (ms). */
const MAX_SHUTDOWN_TIMEOUT_MS = 3_600_000;

export function resolveCheckerOptions(env: NodeJS.ProcessEnv, overrides: Partial<CheckerOptions> = {}): CheckerOptions {
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0) throw new HourglassError('HG_CONFIG_INVALID', `${name} must be a positive number, got ${JSON.stringify(raw)}`);
    return v;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new HourglassError('HG_CONFIG_INVALID', `${name} must be true or false, got ${JSON.stringify(env[name])}`);
  };
  const optionalNum = (name: string): number | undefined => (env[name] ? num(name, 0) : undefined);
  const o: CheckerOptions = {
    location: overrides.location ?? env.HOURGLASS_BUCKET ?? 'file://./.hourglass-data',
    gcsEndpoint: overrides.gcsEndpoint ?? env.HOURGLASS_GCS_ENDPOINT,
    windowS: overrides.windowS ?? num('HOURGLASS_WINDOW_S', 3600),
    topicPrefix: overrides.topicPrefix ?? env.HOURGLASS_TOPIC_PREFIX ?? DEFAULT_TOPIC_PREFIX,
    checkerId: overrides.checkerId ?? env.HOURGLASS_CHECKER_ID ?? `checker-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    tickMs: overrides.tickMs ?? num('HOURGLASS_CHECKER_TICK_MS', 500),
    maxPartBytes: overrides.maxPartBytes ?? num('HOURGLASS_MAX_PART_BYTES', 256 * 1024 * 1024),
    segmentBytes: overrides.segmentBytes ?? num('HOURGLASS_SEGMENT_BYTES', 64 * 1024 * 1024),
    segmentFiles: overrides.segmentFiles ?? num('HOURGLASS_SEGMENT_FILES', 64),
    clientIdHorizonS: overrides.clientIdHorizonS ?? num('HOURGLASS_CLIENT_ID_HORIZON_S', 600),
    codec: overrides.codec ?? ((env.HOURGLASS_OUTPUT_CODEC as CodecName | undefined) ?? 'deflate'),
    discoveryMarginMs: overrides.discoveryMarginMs ?? num('HOURGLASS_DISCOVERY_MARGIN_MS', 1000),
    orphanAgeMs: overrides.orphanAgeMs ?? num('HOURGLASS_ORPHAN_AGE_S', 600) * 1000,
    publisherRetentionMs: overrides.publisherRetentionMs ?? 2 * 24 * 3600 * 1000,
    livenessTimeoutMs: overrides.livenessTimeoutMs ?? optionalNum('HOURGLASS_LIVENESS_MS'),
    maxWaitMs: overrides.maxWaitMs ?? optionalNum('HOURGLASS_MAX_WAIT_MS'),
    announceClosed: overrides.announceClosed ?? bool('HOURGLASS_ANNOUNCE_CLOSED', true),
    shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? num('HOURGLASS_SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS),
  };
  try {
    assertWindowLength(o.windowS);
  } catch (err) {
    throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_WINDOW_S: ${(err as Error).message}`);
  }
  if (!isCodecName(o.codec)) throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_OUTPUT_CODEC: unknown codec ${JSON.stringify(o.codec)}`);
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(o.checkerId)) throw new HourglassError('HG_CONFIG_INVALID', 'checker id must match [A-Za-z0-9_.-]{1,100}');
  if (!Number.isInteger(o.shutdownTimeoutMs) || o.shutdownTimeoutMs < 1 || o.shutdownTimeoutMs > MAX_SHUTDOWN_TIMEOUT_MS) {
    throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_SHUTDOWN_TIMEOUT_MS must be a whole number of ms in 1..${MAX_SHUTDOWN_TIMEOUT_MS}, got ${o.shutdownTimeoutMs}`);
  }
  return o;
}
