// The gateway's one options type (units and defaults on every field), resolved from the environment once at start-up.
//
// Precedence, written once: an explicit override, then the environment, then the default. Nothing
// else in the gateway reads process.env.
import { HourglassError } from '../errors/catalogue.ts';
import { parseTokenEntry } from './auth.ts';
import { clientNameProblem, tokenProblem } from './client-keys.ts';
import { DEFAULT_SCHEMAS_DIR } from '../registry/registry.ts';
import { DEFAULT_TOPIC_PREFIX } from '../wire/topics.ts';
import { assertWindowLength } from '../wire/window.ts';

export type GatewayMode = 'local' | 'cloud';

export interface GatewayOptions {
  /**
   * Where the gateway runs. `local`: binds loopback, authentication off unless tokens are given.
   * `cloud`: binds every interface, authentication on. Env `HOURGLASS_MODE`.
   * Default: `local` when `PUBSUB_EMULATOR_HOST` is set, else `cloud` — a deployment that forgets
   * the variable still requires tokens.
   */
  readonly mode: GatewayMode;
  /** Address to listen on. Env `HOURGLASS_HOST`. Default: `127.0.0.1` (local), `0.0.0.0` (cloud). */
  readonly host: string;
  /** TCP port; 0 picks a free one. Env `HOURGLASS_PORT`, then `PORT` (set by Cloud Run). Default: 8080. */
  readonly port: number;
  /**
   * Whether `POST /v1/events/:type` needs `Authorization: Bearer <token>`. Env `HOURGLASS_GATEWAY_AUTH`
   * (`on` | `off`). Default: on in cloud mode, or when keys or tokens are configured. Cloud mode
   * cannot turn it off.
   */
  readonly authEnabled: boolean;
  /**
   * The per-client keys file (client, keys, types, quota: services/gateway/client-keys.ts), re-read
   * every `keysReloadMs`. On Cloud Run, a Secret Manager secret mounted as a volume. Env
   * `HOURGLASS_GATEWAY_KEYS_FILE`. Required in cloud mode. Default: none.
   */
  readonly keysFile: string | undefined;
  /** Between two reads of the keys file (ms): a revoked key is refused within it. Env `HOURGLASS_GATEWAY_KEYS_RELOAD_MS`, 100..60000. Default: 2000. */
  readonly keysReloadMs: number;
  /**
   * Local mode only: accepted bearer tokens, each `name:token` or `token`, every type and no quota.
   * Env `HOURGLASS_GATEWAY_TOKENS`, separated by commas or newlines. A token is 16..4096
   * URL-safe/base64 characters; a name (`^[a-z][a-z0-9_.-]{0,62}$`) says which client the token belongs to
   * and scopes its event ids (`<name>:<event_id>`); an unnamed token's client is `key-<first 12 hex of its
   * SHA-256>`. Several tokens may share a name (rotation); one token may not appear twice. Default: none.
   */
  readonly tokens: readonly string[];
  /**
   * Address of the ops listener (`/healthz`, `/readyz`, `/metrics`), apart from the public port.
   * Env `HOURGLASS_OPS_HOST`. Default: `127.0.0.1` (local), `0.0.0.0` (cloud: Cloud Run's probes reach
   * it, the public ingress does not, since only the container port is routed).
   */
  readonly opsHost: string;
  /** Port of the ops listener; 0 picks a free one. Env `HOURGLASS_OPS_PORT`. Default: 0 (local), 8081 (cloud). */
  readonly opsPort: number;
  /** Largest request body (bytes, after Content-Encoding is undone). Env `HOURGLASS_MAX_BODY_BYTES`. Default: 5 MiB. */
  readonly maxBodyBytes: number;
  /** Most events in one request. Env `HOURGLASS_MAX_EVENTS_PER_REQUEST`. Default: 1000. */
  readonly maxEventsPerRequest: number;
  /**
   * Largest single event, as encoded (bytes); larger ones are answered 413. Enforced by the publisher
   * (main.ts passes it on). Env `HOURGLASS_MAX_EVENT_BYTES`, 64..1048576. Default: 512 KiB.
   */
  readonly maxEventBytes: number;
  /** `Retry-After` sent with 429 and 503 answers (s). Env `HOURGLASS_RETRY_AFTER_S`. Default: 1. */
  readonly retryAfterS: number;
  /**
   * Budget of a graceful shutdown (ms): in-flight requests finish, then the publisher flushes and
   * sends its final heartbeat. Env `HOURGLASS_SHUTDOWN_TIMEOUT_MS`. Default: 9000 (Cloud Run kills
   * a container 10 s after SIGTERM).
   */
  readonly shutdownTimeoutMs: number;
  /**
   * Google Cloud project of the topics. Env `HOURGLASS_PROJECT`, then `GOOGLE_CLOUD_PROJECT`.
   * Default: `hourglass-local` in local mode (the emulator's project); in cloud mode the client
   * library detects it.
   */
  readonly projectId: string | undefined;
  /** Prefix of every topic name. Env `HOURGLASS_TOPIC_PREFIX`. Default: `hourglass-`. */
  readonly topicPrefix: string;
  /** Window length (s); must divide a day. Env `HOURGLASS_WINDOW_S`. Default: 3600. */
  readonly windowS: number;
  /** Folder of event-type schemas. Env `HOURGLASS_SCHEMAS_DIR`. Default: the schemas shipped with hourglass. */
  readonly schemasDir: string;
}

export const GATEWAY_DEFAULTS = {
  port: 8080,
  cloudOpsPort: 8081,
  keysReloadMs: 2000,
  maxBodyBytes: 5 * 1024 * 1024,
  maxEventsPerRequest: 1000,
  maxEventBytes: 512 * 1024,
  retryAfterS: 1,
  shutdownTimeoutMs: 9000,
  windowS: 3600,
  localProjectId: 'hourglass-local',
} as const;

/** The publisher's default batch size (1 MiB): no single event may exceed a batch. */
const MAX_EVENT_BYTES_CEILING = 1024 * 1024;

type Env = Readonly<Record<string, string | undefined>>;

/** Resolves and validates every option; throws HG_CONFIG_INVALID naming the variable (never a token's value). */
export function resolveGatewayOptions(env: Env = {}, overrides: Partial<GatewayOptions> = {}): GatewayOptions {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (names: string[], min: number, max: number, fallback: number): number => {
    for (const name of names) {
      const raw = read(name);
      if (raw === undefined) continue;
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
        return fallback;
      }
      return n;
    }
    return fallback;
  };

  const modeRaw = read('HOURGLASS_MODE');
  if (modeRaw !== undefined && modeRaw !== 'local' && modeRaw !== 'cloud') {
    problems.push(`HOURGLASS_MODE must be "local" or "cloud", got ${JSON.stringify(modeRaw)}`);
  }
  const mode: GatewayMode =
    overrides.mode ?? (modeRaw === 'local' || modeRaw === 'cloud' ? modeRaw : read('PUBSUB_EMULATOR_HOST') ? 'local' : 'cloud');

  const tokens = overrides.tokens ?? parseTokenList(read('HOURGLASS_GATEWAY_TOKENS') ?? '');
  const keysFile = 'keysFile' in overrides ? overrides.keysFile : read('HOURGLASS_GATEWAY_KEYS_FILE');
  const authRaw = read('HOURGLASS_GATEWAY_AUTH')?.toLowerCase();
  let authFromEnv: boolean | undefined;
  if (authRaw === 'on' || authRaw === 'true' || authRaw === '1') authFromEnv = true;
  else if (authRaw === 'off' || authRaw === 'false' || authRaw === '0') authFromEnv = false;
  else if (authRaw !== undefined) problems.push(`HOURGLASS_GATEWAY_AUTH must be "on" or "off", got ${JSON.stringify(authRaw)}`);

  const options: GatewayOptions = {
    mode,
    host: overrides.host ?? read('HOURGLASS_HOST') ?? (mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    port: overrides.port ?? int(['HOURGLASS_PORT', 'PORT'], 0, 65535, GATEWAY_DEFAULTS.port),
    authEnabled: overrides.authEnabled ?? authFromEnv ?? (mode === 'cloud' || tokens.length > 0 || keysFile !== undefined),
    keysFile,
    keysReloadMs: overrides.keysReloadMs ?? int(['HOURGLASS_GATEWAY_KEYS_RELOAD_MS'], 100, 60_000, GATEWAY_DEFAULTS.keysReloadMs),
    tokens,
    opsHost: overrides.opsHost ?? read('HOURGLASS_OPS_HOST') ?? (mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    opsPort: overrides.opsPort ?? int(['HOURGLASS_OPS_PORT'], 0, 65535, mode === 'local' ? 0 : GATEWAY_DEFAULTS.cloudOpsPort),
    maxBodyBytes: overrides.maxBodyBytes ?? int(['HOURGLASS_MAX_BODY_BYTES'], 1024, 256 * 1024 * 1024, GATEWAY_DEFAULTS.maxBodyBytes),
    maxEventsPerRequest: overrides.maxEventsPerRequest ?? int(['HOURGLASS_MAX_EVENTS_PER_REQUEST'], 1, 100_000, GATEWAY_DEFAULTS.maxEventsPerRequest),
    maxEventBytes: overrides.maxEventBytes ?? int(['HOURGLASS_MAX_EVENT_BYTES'], 64, MAX_EVENT_BYTES_CEILING, GATEWAY_DEFAULTS.maxEventBytes),
    retryAfterS: overrides.retryAfterS ?? int(['HOURGLASS_RETRY_AFTER_S'], 1, 3600, GATEWAY_DEFAULTS.retryAfterS),
    shutdownTimeoutMs: overrides.shutdownTimeoutMs ?? int(['HOURGLASS_SHUTDOWN_TIMEOUT_MS'], 0, 3_600_000, GATEWAY_DEFAULTS.shutdownTimeoutMs),
    projectId:
      overrides.projectId ?? read('HOURGLASS_PROJECT') ?? read('GOOGLE_CLOUD_PROJECT') ?? (mode === 'local' ? GATEWAY_DEFAULTS.localProjectId : undefined),
    topicPrefix: overrides.topicPrefix ?? read('HOURGLASS_TOPIC_PREFIX') ?? DEFAULT_TOPIC_PREFIX,
    windowS: overrides.windowS ?? int(['HOURGLASS_WINDOW_S'], 1, 86_400, GATEWAY_DEFAULTS.windowS),
    schemasDir: overrides.schemasDir ?? read('HOURGLASS_SCHEMAS_DIR') ?? DEFAULT_SCHEMAS_DIR,
  };
  problems.push(...checkGatewayOptions(options));
  if (problems.length > 0) {
    throw new HourglassError('HG_CONFIG_INVALID', `gateway configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return options;
}

/** Splits a token list on commas and newlines, dropping blanks. */
export function parseTokenList(raw: string): string[] {
  return raw
    .split(/[,\r\n]+/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** Every reason the resolved options cannot run (also applied to overrides, which skip the env parsing). */
function checkGatewayOptions(o: GatewayOptions): string[] {
  const problems: string[] = [];
  const intIn = (name: keyof GatewayOptions, min: number, max: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) problems.push(`${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  };
  intIn('port', 0, 65535);
  intIn('opsPort', 0, 65535);
  intIn('keysReloadMs', 100, 60_000);
  if (o.opsPort !== 0 && o.opsPort === o.port) problems.push(`the ops port must differ from the public port (both ${o.port})`);
  if (o.opsHost === '') problems.push('ops host must not be empty');
  intIn('maxBodyBytes', 1024, 256 * 1024 * 1024);
  intIn('maxEventsPerRequest', 1, 100_000);
  intIn('maxEventBytes', 64, MAX_EVENT_BYTES_CEILING);
  intIn('retryAfterS', 1, 3600);
  intIn('shutdownTimeoutMs', 0, 3_600_000);
  try {
    assertWindowLength(o.windowS);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (o.host === '') problems.push('host must not be empty');
  if (o.topicPrefix !== '' && !/^[A-Za-z][A-Za-z0-9\-_.~+%]*$/.test(o.topicPrefix)) problems.push(`topic prefix ${JSON.stringify(o.topicPrefix)} is not a valid start of a Pub/Sub topic name`);
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
  if (o.keysFile === '') problems.push('keys file must not be empty');
  return problems;
}
