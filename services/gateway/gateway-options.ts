// The gateway's configuration schema: every option with its environment variable, unit, default and range (services/config), resolved and checked once at start-up.
//
// Precedence, written once (services/config/settings.ts): an explicit override, then the environment, then
// the default. Nothing else in the gateway reads process.env. Declaration order matters: a default
// computed from other settings (host, opsPort, authEnabled, projectId follow the mode) sees only those
// declared before it.
import { z } from 'zod';
import { anyText, flag, integer, listOf, oneOf, type SettingKind } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { project, pubsubEmulatorHost, schemasDir, shutdownTimeoutMs, telemetrySettings, topicPrefix, windowS } from '../config/shared-settings.ts';
import { DEFAULT_SCHEMAS_DIR } from '../registry/registry.ts';
import { parseTokenEntry } from './auth.ts';
import { clientNameProblem, tokenProblem } from './client-keys.ts';

export type GatewayMode = 'local' | 'cloud';

const MiB = 1024 * 1024;

export const GATEWAY_DEFAULTS = {
  port: 8080,
  cloudOpsPort: 8081,
  keysReloadMs: 2000,
  maxBodyBytes: 5 * MiB,
  maxEventsPerRequest: 1000,
  maxEventBytes: 512 * 1024,
  retryAfterS: 1,
  shutdownTimeoutMs: 9000,
  windowS: 3600,
  localProjectId: 'hourglass-local',
} as const;

/** The publisher's default batch size (1 MiB): no single event may exceed a batch. */
const MAX_EVENT_BYTES_CEILING = 1 * MiB;

const NO_TOKENS: readonly string[] = Object.freeze([]);

/**
 * HOURGLASS_GATEWAY_TOKENS: entries separated by commas or newlines. Each entry is checked by the cross-setting
 * rules (by position, never echoing a token); from code an empty list is allowed (no tokens).
 */
const tokenList: SettingKind<readonly string[]> = {
  ...listOf(anyText('name:token or token'), '"name:token" or "token" entries'),
  value: z.array(z.string()).readonly(),
};

export const GATEWAY_SETTINGS = settings({
  pubsubEmulatorHost: { ...pubsubEmulatorHost, doc: 'Pub/Sub emulator host:port (honoured by the Pub/Sub client itself); set, the mode defaults to local.' },
  mode: setting<GatewayMode>({
    doc: 'Where the gateway runs. local: binds loopback, authentication off unless keys or tokens are given. cloud: binds every interface, authentication on, keys file required.',
    kind: oneOf(['local', 'cloud']),
    env: ['HOURGLASS_MODE'],
    // A deployment that forgets the variable still requires keys.
    default: (r) => (r.pubsubEmulatorHost !== undefined ? 'local' : 'cloud'),
    defaultText: 'local if PUBSUB_EMULATOR_HOST is set, else cloud',
  }),
  host: setting<string>({
    doc: 'Address to listen on.',
    kind: anyText('an address'),
    env: ['HOURGLASS_HOST'],
    default: (r) => (r.mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    defaultText: '127.0.0.1 in local mode, 0.0.0.0 in cloud mode',
  }),
  port: setting<number>({
    doc: 'TCP port of the public listener (PORT is set by Cloud Run); 0 picks a free one.',
    kind: integer(0, 65_535),
    env: ['HOURGLASS_PORT', 'PORT'],
    default: GATEWAY_DEFAULTS.port,
  }),
  keysFile: setting<string | undefined>({
    doc: 'The per-client keys file (client, keys, types, quota: services/gateway/client-keys.ts), re-read every keysReloadMs; on Cloud Run a Secret Manager secret mounted as a volume. Required in cloud mode.',
    kind: anyText('a file path'),
    env: ['HOURGLASS_GATEWAY_KEYS_FILE'],
    defaultText: 'none',
  }),
  keysReloadMs: setting<number>({
    doc: 'Between two reads of the keys file: a revoked key is refused within it.',
    kind: integer(100, 60_000, 'ms'),
    env: ['HOURGLASS_GATEWAY_KEYS_RELOAD_MS'],
    default: GATEWAY_DEFAULTS.keysReloadMs,
  }),
  tokens: setting<readonly string[]>({
    doc:
      'Local mode only: accepted bearer tokens, each name:token or token, every type and no quota. A token is 16..4096 URL-safe/base64 characters; ' +
      'a name (^[a-z][a-z0-9_.-]{0,62}$) says which client the token belongs to and scopes its event ids (<name>:<event_id>); an unnamed token\'s client is ' +
      'key-<first 12 hex of its SHA-256>. Several tokens may share a name (rotation); one token may not appear twice.',
    kind: tokenList,
    env: ['HOURGLASS_GATEWAY_TOKENS'],
    default: NO_TOKENS,
    defaultText: 'none',
    secret: true,
  }),
  authEnabled: setting<boolean>({
    doc: 'Whether POST /v1/events/:type needs Authorization: Bearer <token>. Cloud mode cannot turn it off.',
    kind: flag(),
    env: ['HOURGLASS_GATEWAY_AUTH'],
    default: (r) => r.mode === 'cloud' || ((r.tokens as readonly string[] | undefined)?.length ?? 0) > 0 || r.keysFile !== undefined,
    defaultText: 'on in cloud mode, or when keys or tokens are configured',
  }),
  opsHost: setting<string>({
    doc: "Address of the ops listener (/healthz, /readyz, /metrics), apart from the public port (in cloud mode Cloud Run's probes reach it, the public ingress does not).",
    kind: anyText('an address'),
    env: ['HOURGLASS_OPS_HOST'],
    default: (r) => (r.mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    defaultText: '127.0.0.1 in local mode, 0.0.0.0 in cloud mode',
  }),
  opsPort: setting<number>({
    doc: 'Port of the ops listener; 0 picks a free one. Must differ from the public port.',
    kind: integer(0, 65_535),
    env: ['HOURGLASS_OPS_PORT'],
    default: (r) => (r.mode === 'local' ? 0 : GATEWAY_DEFAULTS.cloudOpsPort),
    defaultText: '0 in local mode, 8081 in cloud mode',
  }),
  maxBodyBytes: setting<number>({
    doc: 'Largest request body, after Content-Encoding is undone.',
    kind: integer(1024, 256 * MiB, 'bytes'),
    env: ['HOURGLASS_MAX_BODY_BYTES'],
    default: GATEWAY_DEFAULTS.maxBodyBytes,
  }),
  maxEventsPerRequest: setting<number>({
    doc: 'Most events in one request.',
    kind: integer(1, 100_000),
    env: ['HOURGLASS_MAX_EVENTS_PER_REQUEST'],
    default: GATEWAY_DEFAULTS.maxEventsPerRequest,
  }),
  maxEventBytes: setting<number>({
    doc: 'Largest single event, as encoded; larger ones are answered 413. Enforced by the publisher (main.ts passes it on).',
    kind: integer(64, MAX_EVENT_BYTES_CEILING, 'bytes'),
    env: ['HOURGLASS_MAX_EVENT_BYTES'],
    default: GATEWAY_DEFAULTS.maxEventBytes,
  }),
  retryAfterS: setting<number>({
    doc: 'Retry-After sent with 429 and 503 answers.',
    kind: integer(1, 3600, 's'),
    env: ['HOURGLASS_RETRY_AFTER_S'],
    default: GATEWAY_DEFAULTS.retryAfterS,
  }),
  // Budget of a graceful shutdown: in-flight requests finish, then the publisher flushes and sends its final heartbeat.
  shutdownTimeoutMs,
  projectId: setting<string | undefined>({
    ...project,
    doc: 'Google Cloud project of the topics.',
    default: (r) => (r.mode === 'local' ? GATEWAY_DEFAULTS.localProjectId : undefined),
    defaultText: 'hourglass-local in local mode (the emulator\'s project); in cloud mode the client library detects it',
  }),
  topicPrefix,
  windowS,
  schemasDir: setting<string>({ ...schemasDir, kind: anyText('a folder path'), default: DEFAULT_SCHEMAS_DIR }),
  ...telemetrySettings,
});

/** The resolved gateway options (units, defaults and ranges: GATEWAY_SETTINGS). */
export type GatewayOptions = Resolved<typeof GATEWAY_SETTINGS>;

type Env = Readonly<Record<string, string | undefined>>;

/** Resolves and validates every option; throws HG_CONFIG_INVALID naming each refused variable (never a token's value). */
export function resolveGatewayOptions(env: Env = {}, overrides: Partial<GatewayOptions> = {}): GatewayOptions {
  return resolveSettings('gateway', GATEWAY_SETTINGS, { env, overrides, check: checkGatewayOptions });
}

/** The rules across settings (each setting's own range is its kind's). */
function checkGatewayOptions(o: GatewayOptions): string[] {
  const problems: string[] = [];
  if (o.opsPort !== 0 && o.opsPort === o.port) problems.push(`the ops port must differ from the public port (both ${o.port})`);
  // Never echo a token: name it by position (a name may be echoed).
  const seen = new Map<string, number>();
  o.tokens.forEach((entry, i) => {
    const { token, name } = parseTokenEntry(entry);
    const nameProblem = name === undefined ? undefined : clientNameProblem(name);
    if (nameProblem) problems.push(`gateway token #${i + 1}: its name ${JSON.stringify(name)} ${nameProblem}`);
    const tokenIssue = tokenProblem(token);
    if (tokenIssue) problems.push(`gateway token #${i + 1} ${tokenIssue}${tokenIssue.startsWith('may only') ? ' (write a name before it as name:token)' : ''}`);
    const first = seen.get(token);
    if (first !== undefined) problems.push(`gateway token #${i + 1} is the same token as #${first}: a token belongs to one client`);
    else seen.set(token, i + 1);
  });
  if (o.mode === 'cloud') {
    // A deployment never runs open, nor on static unscoped tokens: every client has a key with its types and quota.
    if (!o.authEnabled) problems.push('authentication cannot be off in cloud mode (HOURGLASS_GATEWAY_AUTH=off is for local mode)');
    if (o.tokens.length > 0) problems.push('HOURGLASS_GATEWAY_TOKENS is for local mode: in cloud mode keys come from HOURGLASS_GATEWAY_KEYS_FILE (client, types, quota)');
    else if (o.keysFile === undefined) problems.push('cloud mode needs HOURGLASS_GATEWAY_KEYS_FILE (the per-client keys: a Secret Manager secret mounted as a file)');
  } else {
    if (o.keysFile !== undefined && o.tokens.length > 0) problems.push('set HOURGLASS_GATEWAY_KEYS_FILE or HOURGLASS_GATEWAY_TOKENS, not both: one source of keys');
    if (o.authEnabled && o.tokens.length === 0 && o.keysFile === undefined) {
      problems.push('authentication is on but no keys are configured: set HOURGLASS_GATEWAY_KEYS_FILE or HOURGLASS_GATEWAY_TOKENS, or HOURGLASS_GATEWAY_AUTH=off to accept requests without a token');
    }
  }
  return problems;
}
