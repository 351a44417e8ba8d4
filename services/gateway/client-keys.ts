// Per-client keys of the gateway: which client a bearer token belongs to, the event types it may publish, and its rate quota.
//
// The keys document (JSON, a Secret Manager secret mounted as a file on Cloud Run, a file locally):
//
//   { "clients": [
//       { "client": "checkout",                                   // scopes its event ids: "checkout:<event_id>"
//         "keys": ["<token>", "sha256:<64 hex of a token>"],      // any of them; several keys = rotation
//         "types": ["track_played", "search_performed"],          // or ["*"]: every type
//         "quota": { "eventsPerS": 500, "bytesPerS": 1048576, "burstS": 2 } } ] }
//
// A key may be written as the token itself or as "sha256:" and the hex SHA-256 of the token, so the
// secret need not hold the token. Tokens are compared as SHA-256 digests with timingSafeEqual against
// every key, without stopping at a match (services/gateway/auth.ts explains why). Every problem of a
// document is reported at once, naming keys by position, never by value.
import { createHash, timingSafeEqual } from 'node:crypto';
import { HourglassError } from '../errors/catalogue.ts';

/** Token characters: RFC 6750's b64token, so any token can travel in an Authorization header. */
export const TOKEN_SYNTAX = /^[A-Za-z0-9\-._~+/]+=*$/;
export const TOKEN_MIN_CHARS = 16;
export const TOKEN_MAX_CHARS = 4096;
/** A client's name. Names starting "key-" and "anonymous" are the gateway's own. */
export const CLIENT_NAME_SYNTAX = /^[a-z][a-z0-9_.-]{0,62}$/;
/** The client of every request when authentication is off (local mode only). */
export const ANONYMOUS_CLIENT = 'anonymous';
/** `types` entry granting every type. */
export const ALL_TYPES = '*';

/** A client's rate quota: a token bucket per dimension, `burstS` seconds deep. */
export interface Quota {
  readonly eventsPerS: number;
  readonly bytesPerS: number;
  /** How many seconds of the rate a client may spend at once after idling. Default 1. */
  readonly burstS: number;
}

export interface ClientGrant {
  readonly client: string;
  /** The types it may publish; undefined: every type. */
  readonly types: ReadonlySet<string> | undefined;
  /** Undefined: no quota (keys from HOURGLASS_GATEWAY_TOKENS, local mode only). */
  readonly quota: Quota | undefined;
}

/** The keys in force: finds the grant a token belongs to. */
export class KeyRing {
  readonly #digests: readonly Buffer[];
  readonly #grants: readonly ClientGrant[];

  constructor(entries: ReadonlyArray<{ readonly digest: Buffer; readonly grant: ClientGrant }>) {
    this.#digests = entries.map((e) => e.digest);
    this.#grants = entries.map((e) => e.grant);
  }

  /** Number of keys. */
  get size(): number {
    return this.#digests.length;
  }

  /** Every client with at least one key. */
  clients(): string[] {
    return [...new Set(this.#grants.map((g) => g.client))];
  }

  /** The grant `token` belongs to, or undefined. Compares with every key, whatever matches. */
  grantOf(token: string): ClientGrant | undefined {
    const candidate = tokenDigest(token);
    let grant: ClientGrant | undefined;
    this.#digests.forEach((known, i) => {
      if (timingSafeEqual(candidate, known)) grant = this.#grants[i];
    });
    return grant;
  }
}

/** True when `grant` may publish `type`. */
export function mayPublish(grant: ClientGrant, type: string): boolean {
  return grant.types === undefined || grant.types.has(type);
}

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Why `name` cannot name a client; undefined when it can. */
export function clientNameProblem(name: string): string | undefined {
  if (!CLIENT_NAME_SYNTAX.test(name)) return 'must match ^[a-z][a-z0-9_.-]{0,62}$';
  if (name === ANONYMOUS_CLIENT || name.startsWith('key-')) return `"${ANONYMOUS_CLIENT}" and names starting "key-" are reserved for the gateway`;
  return undefined;
}

/** Why `token` cannot be a token; undefined when it can. Never names the token. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < TOKEN_MIN_CHARS || token.length > TOKEN_MAX_CHARS) return `must be ${TOKEN_MIN_CHARS}..${TOKEN_MAX_CHARS} characters long (has ${token.length})`;
  if (!TOKEN_SYNTAX.test(token)) return 'may only hold A-Z a-z 0-9 - . _ ~ + / and trailing =';
  return undefined;
}

const SHA256_KEY = /^sha256:([0-9a-f]{64})$/;
const QUOTA_FIELDS = new Set(['eventsPerS', 'bytesPerS', 'burstS']);
const CLIENT_FIELDS = new Set(['client', 'keys', 'types', 'quota']);

/** What a keys document holds besides its ring: types it names that the registry does not know (a warning, not an error). */
export interface ParsedKeys {
  readonly ring: KeyRing;
  readonly unknownTypes: string[];
}

/**
 * Parses a keys document. `isKnownType` tells which type names exist; a grant naming an unknown type
 * is kept (a type may be deployed after its grant) and reported in `unknownTypes`.
 * Throws HG_CONFIG_INVALID listing every problem.
 */
export function parseKeysDocument(text: string, isKnownType: (type: string) => boolean, source = 'keys file'): ParsedKeys {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new HourglassError('HG_CONFIG_INVALID', `${source}: not valid JSON (${(err as Error).message.slice(0, 200)})`);
  }
  const problems: string[] = [];
  const entries: Array<{ digest: Buffer; grant: ClientGrant }> = [];
  const unknownTypes = new Set<string>();
  const seenDigests = new Map<string, string>();
  const seenClients = new Set<string>();
  const clients = isObject(doc) ? doc.clients : undefined;
  if (!isObject(doc) || !Array.isArray(clients)) {
    problems.push('must be an object {"clients": [...]}');
  } else {
    for (const key of Object.keys(doc)) if (key !== 'clients') problems.push(`unknown field "${key.slice(0, 60)}" at the top level`);
    clients.forEach((raw: unknown, i) => {
      const at = `clients[${i}]`;
      if (!isObject(raw)) return void problems.push(`${at} must be an object`);
      for (const key of Object.keys(raw)) if (!CLIENT_FIELDS.has(key)) problems.push(`${at}: unknown field "${key.slice(0, 60)}"`);
      const client = raw.client;
      if (typeof client !== 'string') problems.push(`${at}.client must be a string`);
      else {
        const nameProblem = clientNameProblem(client);
        if (nameProblem) problems.push(`${at}.client ${JSON.stringify(client.slice(0, 80))} ${nameProblem}`);
        if (seenClients.has(client)) problems.push(`${at}.client "${client}" appears twice: give one client one entry with several keys`);
        seenClients.add(client);
      }
      const types = parseTypes(raw.types, at, problems, isKnownType, unknownTypes);
      const quota = parseQuota(raw.quota, at, problems);
      // One grant per client, shared by its keys (and so by its quota's bucket).
      const grant: ClientGrant | undefined = typeof client === 'string' ? { client, types, quota } : undefined;
      const keys = raw.keys;
      if (!Array.isArray(keys) || keys.length === 0) return void problems.push(`${at}.keys must be a non-empty array`);
      keys.forEach((key: unknown, k) => {
        const keyAt = `${at}.keys[${k}]`;
        if (typeof key !== 'string') return void problems.push(`${keyAt} must be a string`);
        const hashed = SHA256_KEY.exec(key);
        let digest: Buffer;
        if (hashed) digest = Buffer.from(hashed[1]!, 'hex');
        else if (key.startsWith('sha256:')) return void problems.push(`${keyAt}: "sha256:" must be followed by 64 lowercase hex digits`);
        else {
          const problem = tokenProblem(key);
          if (problem) return void problems.push(`${keyAt} ${problem}`);
          digest = tokenDigest(key);
        }
        const hex = digest.toString('hex');
        const first = seenDigests.get(hex);
        if (first !== undefined) return void problems.push(`${keyAt} is the same key as ${first}: a key belongs to one client`);
        seenDigests.set(hex, keyAt);
        if (grant) entries.push({ digest, grant });
      });
    });
  }
  if (problems.length > 0) {
    throw new HourglassError('HG_CONFIG_INVALID', `${source}: ${problems.join('; ')}`, { details: { problems } });
  }
  return { ring: new KeyRing(entries), unknownTypes: [...unknownTypes].sort() };
}

function parseTypes(raw: unknown, at: string, problems: string[], isKnownType: (type: string) => boolean, unknown: Set<string>): ReadonlySet<string> | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((t) => typeof t === 'string')) {
    problems.push(`${at}.types must be a non-empty array of type names, or ["${ALL_TYPES}"]`);
    return new Set();
  }
  if (raw.includes(ALL_TYPES)) {
    if (raw.length > 1) problems.push(`${at}.types: "${ALL_TYPES}" grants every type and stands alone`);
    return undefined;
  }
  for (const t of raw as string[]) if (!isKnownType(t)) unknown.add(t);
  return new Set(raw as string[]);
}

function parseQuota(raw: unknown, at: string, problems: string[]): Quota {
  const fallback: Quota = { eventsPerS: 1, bytesPerS: 1, burstS: 1 };
  if (!isObject(raw)) {
    problems.push(`${at}.quota must be an object {"eventsPerS", "bytesPerS", "burstS"?}`);
    return fallback;
  }
  for (const key of Object.keys(raw)) if (!QUOTA_FIELDS.has(key)) problems.push(`${at}.quota: unknown field "${key.slice(0, 60)}"`);
  const positive = (name: string, max: number, fallbackValue?: number): number => {
    const v = raw[name];
    if (v === undefined && fallbackValue !== undefined) return fallbackValue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
      problems.push(`${at}.quota.${name} must be a number above 0 and at most ${max}`);
      return 1;
    }
    return v;
  };
  return { eventsPerS: positive('eventsPerS', 1e9), bytesPerS: positive('bytesPerS', 1e12), burstS: positive('burstS', 3600, 1) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
