// Bearer-token authentication of the event routes: the Authorization header checked in constant time against the configured tokens.
//
// Tokens are compared as SHA-256 digests with timingSafeEqual, against every configured token
// without stopping at a match, so the time taken tells an attacker neither how much of a guess was
// right nor which token matched.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HourglassError } from '../errors/catalogue.ts';

/** The realm named in WWW-Authenticate challenges. */
export const AUTH_REALM = 'hourglass';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export class TokenSet {
  readonly #digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** True when `token` is one of the configured tokens. */
  has(token: string): boolean {
    const candidate = digest(token);
    let found = false;
    for (const known of this.#digests) found = timingSafeEqual(candidate, known) || found;
    return found;
  }
}

export type AuthOutcome = { readonly ok: true } | { readonly ok: false; readonly error: HourglassError; readonly challenge: string };

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
  if (!tokens.has(match[1]!)) {
    return {
      ok: false,
      error: new HourglassError('HG_UNAUTHORIZED', 'invalid bearer token'),
      challenge: `Bearer realm="${AUTH_REALM}", error="invalid_token"`,
    };
  }
  return { ok: true };
}

/** Express middleware: passes authenticated requests on; answers the rest through the error handler with their challenge. */
export function requireBearerToken(tokens: TokenSet): RequestHandler {
  return (req, res, next) => {
    const outcome = checkAuthorization(req.headers.authorization, tokens);
    if (outcome.ok) return next();
    res.setHeader('WWW-Authenticate', outcome.challenge);
    next(outcome.error);
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
