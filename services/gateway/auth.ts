// Bearer-token authentication of the event routes: the Authorization header checked in constant time, and the client it names.
//
// Tokens are compared as SHA-256 digests with timingSafeEqual, against every configured token
// without stopping at a match, so the time taken tells an attacker neither how much of a guess was
// right nor which token matched. The matched token's client scopes the request's event ids
// (services/sdk/event-id-scope.ts): a token configured as "name:token" is the client "name"; an
// unnamed one is "key-<first 12 hex of its SHA-256>" (never the token itself). Give the old and the
// new token of one client the same name when rotating, so that its retries still de-duplicate.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HourglassError } from '../errors/catalogue.ts';

/** The realm named in WWW-Authenticate challenges. */
export const AUTH_REALM = 'hourglass';

/** The client of every request when authentication is off (local mode only). */
export const ANONYMOUS_CLIENT = 'anonymous';

/** A token entry's client name. Names starting "key-" and "anonymous" are the gateway's own. */
export const CLIENT_NAME_SYNTAX = /^[a-z][a-z0-9_.-]{0,62}$/;

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** One entry of HOURGLASS_GATEWAY_TOKENS: "name:token" or "token" (a token never holds ":"). */
export interface TokenEntry {
  readonly token: string;
  /** The name given, if any. */
  readonly name?: string;
  /** Who the token belongs to: the name, or "key-<first 12 hex of the token's SHA-256>". */
  readonly client: string;
}

export function parseTokenEntry(entry: string): TokenEntry {
  const colon = entry.indexOf(':');
  if (colon < 0) return { token: entry, client: `key-${digest(entry).toString('hex').slice(0, 12)}` };
  const name = entry.slice(0, colon);
  return { token: entry.slice(colon + 1), name, client: name };
}

/** Why `name` cannot name a token's client; undefined when it can. */
export function clientNameProblem(name: string): string | undefined {
  if (!CLIENT_NAME_SYNTAX.test(name)) return 'must match ^[a-z][a-z0-9_.-]{0,62}$';
  if (name === ANONYMOUS_CLIENT || name.startsWith('key-')) return `"${ANONYMOUS_CLIENT}" and names starting "key-" are reserved for the gateway`;
  return undefined;
}

export class TokenSet {
  readonly #digests: readonly Buffer[];
  readonly #clients: readonly string[];

  /** `entries` as configured: "name:token" or "token". */
  constructor(entries: readonly string[]) {
    const parsed = entries.map(parseTokenEntry);
    this.#digests = parsed.map((e) => digest(e.token));
    this.#clients = parsed.map((e) => e.client);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** True when `token` is one of the configured tokens. */
  has(token: string): boolean {
    return this.clientOf(token) !== undefined;
  }

  /** The client `token` belongs to, or undefined when it is not configured. Compares with every token, whatever matches. */
  clientOf(token: string): string | undefined {
    const candidate = digest(token);
    let client: string | undefined;
    this.#digests.forEach((known, i) => {
      if (timingSafeEqual(candidate, known)) client = this.#clients[i];
    });
    return client;
  }
}

export type AuthOutcome = { readonly ok: true; readonly client: string } | { readonly ok: false; readonly error: HourglassError; readonly challenge: string };

/** Checks an Authorization header value; on failure returns the error and the WWW-Authenticate challenge (RFC 6750). */
export function checkAuthorization(header: string | undefined, tokens: TokenSet): AuthOutcome {
  if (header === undefined || header.trim() === '') {
    return {
      ok: false,
      error: new HourglassError('HG_UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <token>"'),
      challenge: `Bearer realm="${AUTH_REALM}"`,
    };
  }
  const match = BEARER.exec(header);
  if (!match) {
    return {
      ok: false,
      error: new HourglassError('HG_UNAUTHORIZED', 'malformed Authorization header: expected "Bearer <token>"'),
      challenge: `Bearer realm="${AUTH_REALM}", error="invalid_request"`,
    };
  }
  const client = tokens.clientOf(match[1]!);
  if (client === undefined) {
    return {
      ok: false,
      error: new HourglassError('HG_UNAUTHORIZED', 'invalid bearer token'),
      challenge: `Bearer realm="${AUTH_REALM}", error="invalid_token"`,
    };
  }
  return { ok: true, client };
}

/** Where the middleware leaves the request's client (res.locals), for the handlers after it. */
export interface AuthenticatedLocals {
  client?: string;
}

/** Express middleware: passes authenticated requests on with their client in res.locals; answers the rest through the error handler with their challenge. */
export function requireBearerToken(tokens: TokenSet): RequestHandler {
  return (req, res, next) => {
    const outcome = checkAuthorization(req.headers.authorization, tokens);
    if (outcome.ok) {
      (res.locals as AuthenticatedLocals).client = outcome.client;
      return next();
    }
    res.setHeader('WWW-Authenticate', outcome.challenge);
    next(outcome.error);
  };
}

/** Express middleware for authentication off (local mode only): every request is the anonymous client. */
export function anonymousClient(): RequestHandler {
  return (_req, res, next) => {
    (res.locals as AuthenticatedLocals).client = ANONYMOUS_CLIENT;
    next();
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
