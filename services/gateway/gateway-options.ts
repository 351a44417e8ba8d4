// The gateway's one options type (units and defaults on every field), resolved from the environment once at start-up.
//
// Precedence, written once: an explicit override, then the environment, then the default. Nothing
// else in the gateway reads process.env.
import { HourglassError } from '../errors/catalogue.ts';
import { clientNameProblem, parseTokenEntry } from './auth.ts';
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
   * (`on` | `off`). Default: on in cloud mode, or when tokens are configured.
   */
  readonly authEnabled: boolean;
  /**
   * Accepted bearer tokens (any of them), each `name:token` or `token`. Env `HOURGLASS_GATEWAY_TOKENS`,
   * separated by commas or newlines (the Secret Manager secret holds one per line). A token is 16..4096
   * URL-safe/base64 characters; a name (`^[a-z][a-z0-9_.-]{0,62}$`) says which client the token belongs to
   * and scopes its event ids (`<name>:<event_id>`); an unnamed token's client is `key-<first 12 hex of its
   * SHA-256>`. Several tokens may share a name (rotation); one token may not appear twice. Default: none.
   */
  readonly tokens: readonly string[];
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

/** Token characters: RFC 6750's b64token, so any token can travel in an Authorization header. */
const TOKEN_SYNTAX = /^[A-Za-z0-9\-._~+/]+=*$/;
const TOKEN_MIN_CHARS = 16;
const TOKEN_MAX_CHARS = 4096;

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
  const authRaw = read('HOURGLASS_GATEWAY_AUTH')?.toLowerCase();
  let authFromEnv: boolean | undefined;
  if (authRaw === 'on' || authRaw === 'true' || authRaw === '1') authFromEnv = true;
  else if (authRaw === 'off' || authRaw === 'false' || authRaw === '0') authFromEnv = false;
  else if (authRaw !== undefined) problems.push(`HOURGLASS_GATEWAY_AUTH must be "on" or "off", got ${JSON.stringify(authRaw)}`);

  const options: GatewayOptions = {
    mode,
    host: overrides.host ?? read('HOURGLASS_HOST') ?? (mode === 'local' ? '127.0.0.1' : '0.0.0.0'),
    port: overrides.port ?? int(['HOURGLASS_PORT', 'PORT'], 0, 65535, GATEWAY_DEFAULTS.port),
    authEnabled: overrides.authEnabled ?? authFromEnv ?? (mode === 'cloud' || tokens.length > 0),
    tokens,
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
    if (token.length < TOKEN_MIN_CHARS || token.length > TOKEN_MAX_CHARS) {
      problems.push(`gateway token #${i + 1} must be ${TOKEN_MIN_CHARS}..${TOKEN_MAX_CHARS} characters long (has ${token.length})`);
    } else if (!TOKEN_SYNTAX.test(token)) {
      problems.push(`gateway token #${i + 1} may only hold A-Z a-z 0-9 - . _ ~ + / and trailing = (write a name before it as name:token)`);
    }
    const first = seen.get(token);
    if (first !== undefined) problems.push(`gateway token #${i + 1} is the same token as #${first}: a token belongs to one client`);
    else seen.set(token, i + 1);
  });
  if (o.authEnabled && o.tokens.length === 0) {
    problems.push(
      `authentication is on${o.mode === 'cloud' ? ' (cloud mode)' : ''} but no tokens are configured: set HOURGLASS_GATEWAY_TOKENS, or HOURGLASS_GATEWAY_AUTH=off to accept requests without a token`,
    );
  }
  return problems;
}
