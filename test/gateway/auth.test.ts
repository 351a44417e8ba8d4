// Bearer-token checks: the token set and the client each token belongs to, and the 401 challenges for a missing, malformed or wrong header.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { checkAuthorization, clientNameProblem, parseTokenEntry, TokenSet } from '../../services/gateway/auth.ts';

const GOOD = 'hg_live_0123456789abcdef';
const OTHER = 'hg_live_fedcba9876543210xyz';

describe('TokenSet', () => {
  it('knows exactly its tokens, whatever their lengths', () => {
    const tokens = new TokenSet([GOOD, OTHER]);
    assert.equal(tokens.size, 2);
    assert.equal(tokens.has(GOOD), true);
    assert.equal(tokens.has(OTHER), true);
    assert.equal(tokens.has(GOOD.slice(0, -1)), false);
    assert.equal(tokens.has(`${GOOD}x`), false);
    assert.equal(tokens.has(''), false);
    assert.equal(new TokenSet([]).has(GOOD), false);
  });
});

describe('token entries', () => {
  it('"name:token" names the client; an unnamed token\'s client is key-<first 12 hex of its SHA-256>, never the token', () => {
    assert.deepEqual(parseTokenEntry(`web-app:${GOOD}`), { token: GOOD, name: 'web-app', client: 'web-app' });
    const unnamed = parseTokenEntry(GOOD);
    assert.equal(unnamed.client, `key-${createHash('sha256').update(GOOD).digest('hex').slice(0, 12)}`);
    assert.equal(unnamed.name, undefined);
    assert.ok(!unnamed.client.includes(GOOD.slice(0, 8)));
    assert.deepEqual(new TokenSet([`web-app:${GOOD}`]).clientOf(`web-app:${GOOD}`), undefined, 'the name is not part of the token');
  });

  it('client names: ^[a-z][a-z0-9_.-]{0,62}$, and not the gateway\'s own', () => {
    for (const ok of ['a', 'web-app', 'ios_app.v2', 'x'.repeat(63)]) assert.equal(clientNameProblem(ok), undefined, ok);
    for (const bad of ['', 'Web', '1app', 'a b', 'a:b', 'x'.repeat(64), 'anonymous', 'key-abc']) assert.ok(clientNameProblem(bad), bad);
  });
});

describe('checkAuthorization', () => {
  const tokens = new TokenSet([GOOD]);

  it('accepts "Bearer <token>" (scheme case-insensitive), naming the client it belongs to', () => {
    const client = `key-${createHash('sha256').update(GOOD).digest('hex').slice(0, 12)}`;
    assert.deepEqual(checkAuthorization(`Bearer ${GOOD}`, tokens), { ok: true, client });
    assert.deepEqual(checkAuthorization(`bearer ${GOOD}`, tokens), { ok: true, client });
    const named = new TokenSet([`alice:${GOOD}`, `bob:${OTHER}`]);
    assert.deepEqual(checkAuthorization(`Bearer ${GOOD}`, named), { ok: true, client: 'alice' });
    assert.deepEqual(checkAuthorization(`Bearer ${OTHER}`, named), { ok: true, client: 'bob' });
  });

  const cases: Array<[string, string | undefined, RegExp, string]> = [
    ['missing header', undefined, /missing bearer token/, 'Bearer realm="hourglass"'],
    ['empty header', '  ', /missing bearer token/, 'Bearer realm="hourglass"'],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`, /malformed Authorization header/, 'Bearer realm="hourglass", error="invalid_request"'],
    ['no token', 'Bearer', /malformed Authorization header/, 'Bearer realm="hourglass", error="invalid_request"'],
    ['wrong token', `Bearer ${OTHER}`, /invalid bearer token/, 'Bearer realm="hourglass", error="invalid_token"'],
  ];
  for (const [name, header, message, challenge] of cases) {
    it(`refuses: ${name}`, () => {
      const outcome = checkAuthorization(header, tokens);
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.error.code, 'HG_UNAUTHORIZED');
      assert.equal(outcome.error.httpStatus, 401);
      assert.match(outcome.error.message, message);
      assert.equal(outcome.challenge, challenge);
    });
  }
});
