// Bearer-token authentication of the event routes: the Authorization header checked against the keys in force, and the client's grant it names.
//
// Keys come from the keys file (services/gateway/client-keys.ts: client, types, quota; reloaded
// without a restart by key-file-source.ts) or, in local mode only, from HOURGLASS_GATEWAY_TOKENS
// ("name:token" or "token": every type, no quota). A matched key's client scopes the request's event
// ids (services/sdk/event-id-scope.ts): a token configured as "name:token" is the client "name"; an
// unnamed one is "key-<first 12 hex of its SHA-256>" (never the token itself). Give the old and the
// new token of one client the same name when rotating, so that its retries still de-duplicate.
import type { RequestHandler } from 'express';
import { HourglassError } from '../errors/catalogue.ts';
import { ANONYMOUS_CLIENT, KeyRing, tokenDigest, type ClientGrant } from './client-keys.ts';

/** The realm named in WWW-Authenticate challenges. */
export const AUTH_REALM = 'hourglass';

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
  if (colon < 0) return { token: entry, client: `key-${tokenDigest(entry).toString('hex').slice(0, 12)}` };
  const name = entry.slice(0, colon);
  return { token: entry.slice(colon + 1), name, client: name };
}

/** The keys of HOURGLASS_GATEWAY_TOKENS ("name:token" or "token"): each may publish every type, without a quota (local mode only). */
export function tokenListRing(entries: readonly string[]): KeyRing {
  const grants = new Map<string, ClientGrant>();
  return new KeyRing(
    entries.map(parseTokenEntry).map((e) => {
      const grant = grants.get(e.client) ?? { client: e.client, types: undefined, quota: undefined };
      grants.set(e.client, grant);
      return { digest: tokenDigest(e.token), grant };
    }),
  );
}

export type AuthOutcome = { readonly ok: true; readonly grant: ClientGrant } | { readonly ok: false; readonly error: HourglassError; readonly challenge: string };

/** Checks an Authorization header value; on failure returns the error and the WWW-Authenticate challenge (RFC 6750). */
export function checkAuthorization(header: string | undefined, keys: KeyRing): AuthOutcome {
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
  const grant = keys.grantOf(match[1]!);
  if (grant === undefined) {
    return {
      ok: false,
      error: new HourglassError('HG_UNAUTHORIZED', 'invalid bearer token'),
      challenge: `Bearer realm="${AUTH_REALM}", error="invalid_token"`,
    };
  }
  return { ok: true, grant };
}

/** Where the middleware leaves the request's client and grant (res.locals), for the handlers after it. */
export interface AuthenticatedLocals {
  client?: string;
  /** Undefined with authentication off: every type, no quota. */
  grant?: ClientGrant;
}

/**
 * Express middleware: passes authenticated requests on with their client and grant in res.locals;
 * answers the rest through the error handler with their challenge. `keys` is asked on every request,
 * so a reloaded ring (a new key, a revoked one) applies to the next request.
 */
export function requireBearerToken(keys: () => KeyRing): RequestHandler {
  return (req, res, next) => {
    const outcome = checkAuthorization(req.headers.authorization, keys());
    if (outcome.ok) {
      (res.locals as AuthenticatedLocals).client = outcome.grant.client;
      (res.locals as AuthenticatedLocals).grant = outcome.grant;
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

