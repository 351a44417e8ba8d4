// The checker's configuration schema: every option with its environment variable, unit, default and range (services/config), resolved and checked once at start-up.
//
// Precedence, written once (services/config/settings.ts): an explicit value, then the environment, then the
// default. Nothing else in the checker reads process.env.
import { faultSettings } from '../config/fault-settings.ts';
import { flag, integer, oneOf, text } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { bucket, gcsEndpoint, opsSettings, project, pubsubEmulatorHost, schemasDir, shutdownTimeoutMs, telemetrySettings, topicPrefix, windowS } from '../config/shared-settings.ts';
import { CODEC_NAMES, type CodecName } from '../wire/codecs.ts';

export { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../config/shared-settings.ts';

const MiB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

export const CHECKER_SETTINGS = settings({
  location: bucket,
  gcsEndpoint,
  pubsubEmulatorHost,
  projectId: project,
  windowS,
  schemasDir,
  topicPrefix,
  checkerId: setting<string>({
    doc: 'Id of this checker replica: it names its state files and the closes it makes.',
    kind: text(/^[A-Za-z0-9_.-]{1,100}$/, '1 to 100 of A-Z a-z 0-9 _ . -'),
    env: ['HOURGLASS_CHECKER_ID'],
    default: () => `checker-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    defaultText: 'checker-<pid>-<random>',
  }),
  tickMs: setting<number>({
    doc: 'Interval between close rounds.',
    kind: integer(10, 600_000, 'ms'),
    env: ['HOURGLASS_CHECKER_TICK_MS'],
    default: 500,
  }),
  maxPartBytes: setting<number>({
    doc: 'Largest part file of a closed window; a big window is several parts.',
    kind: integer(1, 16 * 1024 * MiB, 'bytes'),
    env: ['HOURGLASS_MAX_PART_BYTES'],
    default: 256 * MiB,
  }),
  segmentBytes: setting<number>({
    doc: 'Compact an open window once this many staged bytes are not yet in a segment.',
    kind: integer(1, 16 * 1024 * MiB, 'bytes'),
    env: ['HOURGLASS_SEGMENT_BYTES'],
    default: 64 * MiB,
  }),
  segmentFiles: setting<number>({
    doc: 'Or once this many staged files are not yet in a segment (a small type stages few bytes but a file per second).',
    kind: integer(1, Number.MAX_SAFE_INTEGER),
    env: ['HOURGLASS_SEGMENT_FILES'],
    default: 64,
  }),
  clientIdHorizonS: setting<number>({
    doc: 'Two records of a window with the same client event id are duplicates when received at most this far apart; the dedup state is bounded by it.',
    kind: integer(1, 86_400, 's'),
    env: ['HOURGLASS_CLIENT_ID_HORIZON_S'],
    default: 600,
  }),
  codec: setting<CodecName>({
    doc: "Codec of the closed windows' part files.",
    kind: oneOf(CODEC_NAMES as readonly [CodecName, ...CodecName[]]),
    env: ['HOURGLASS_OUTPUT_CODEC'],
    default: 'deflate',
  }),
  discoveryMarginMs: setting<number>({
    doc: "A window closes only once the control topic has been read this far past its end: covers a new publisher's first heartbeat delivered after its first messages, and clocks running behind Pub/Sub's.",
    kind: integer(0, 600_000, 'ms'),
    env: ['HOURGLASS_DISCOVERY_MARGIN_MS'],
    default: 1000,
  }),
  orphanAgeS: setting<number>({
    doc: "A staging file no manifest names (debris of a worker that died between the two) is removed once its window is closed and it is this old; it must exceed a worker's write deadline plus one request (30 s).",
    kind: integer(60, 30 * 86_400, 's'),
    env: ['HOURGLASS_ORPHAN_AGE_S'],
    default: 600,
  }),
  publisherRetentionMs: setting<number>({
    doc: 'How long a silent publisher is remembered.',
    kind: integer(60_000, 365 * DAY_MS, 'ms'),
    default: 2 * DAY_MS,
  }),
  livenessTimeoutMs: setting<number | undefined>({
    doc: "Overrides every type's liveness timeout (tests, drills).",
    kind: integer(1, 7 * DAY_MS, 'ms'),
    env: ['HOURGLASS_LIVENESS_MS'],
    defaultText: "each type's own",
  }),
  maxWaitMs: setting<number | undefined>({
    doc: "Overrides every type's max wait (tests, drills).",
    kind: integer(1, 7 * DAY_MS, 'ms'),
    env: ['HOURGLASS_MAX_WAIT_MS'],
    defaultText: "each type's own",
  }),
  shareTypes: setting<boolean>({
    doc: "Share the types with the other live replicas: each closes its own share, and a dead replica's share moves within about 6 s (its snapshot's 5-s freshness plus one membership refresh). Off: every replica closes every type, as a lone checker does.",
    kind: flag(),
    env: ['HOURGLASS_CHECKER_SHARE_TYPES'],
    default: true,
  }),
  typesInParallel: setting<number>({
    doc: "Types a round works on at once. A close is about a dozen bucket requests one after another (20–50 ms each on Cloud Storage), so at an hour's end a round takes about owned types ÷ this × 0.3–0.6 s; memory is bounded by partsInMemory, not by this.",
    kind: integer(1, 512),
    env: ['HOURGLASS_CHECKER_TYPES_IN_PARALLEL'],
    default: 64,
  }),
  partsInMemory: setting<number>({
    doc: 'Memory for closes, segments and late moves at once, in parts (maxPartBytes each): each reserves the staged bytes it compacts (a close only the tail not yet in segments), at most a part, before it starts; many small windows close together, large ones take turns. The default fits a 1-GiB instance.',
    kind: integer(1, 1024),
    env: ['HOURGLASS_CHECKER_PARTS_IN_MEMORY'],
    default: 2,
  }),
  stagedNoticeSlots: setting<number>({
    doc: "Notice slots: subscriptions <prefix>staged-checker-0… to the workers' staged notices, one per replica (Terraform makes as many as the checker's max instances and sets this to match; provisioning makes 4 locally). A replica reads the slot of its rank and learns of staged files without listing every owned type every round; one beyond the slots, or with 0, lists every round. A close is decided on a listing either way. 0 by default outside Terraform: locally the notices' delivery costs the emulator's CPU, which at 500 types on 2 cores starved the checkers (docs/scale-model.md).",
    kind: integer(0, 1000),
    env: ['HOURGLASS_CHECKER_NOTICE_SLOTS'],
    default: 0,
  }),
  stagingRelistS: setting<number>({
    doc: 'With staged notices: the longest a type goes without a listing of its staging, i.e. how long a lost notice can hide a staged file from compaction and the status page (never from a close).',
    kind: integer(1, 3600, 's'),
    env: ['HOURGLASS_CHECKER_STAGING_RELIST_S'],
    default: 30,
  }),
  announceClosed: setting<boolean>({
    doc: 'Announce each closed window on the topic <prefix>closed-windows.',
    kind: flag(),
    env: ['HOURGLASS_ANNOUNCE_CLOSED'],
    default: true,
  }),
  shutdownTimeoutMs,
  ...opsSettings,
  ...telemetrySettings,
  ...faultSettings,
});

export type CheckerOptions = Resolved<typeof CHECKER_SETTINGS>;

/** Resolves options from explicit values, then `env`, then defaults; throws HG_CONFIG_INVALID listing every problem. */
export function resolveCheckerOptions(env: Readonly<Record<string, string | undefined>>, overrides: Partial<CheckerOptions> = {}): CheckerOptions {
  return resolveSettings('checker', CHECKER_SETTINGS, { env, overrides });
}
