// Bearer-token checks: the keys of HOURGLASS_GATEWAY_TOKENS and the client each belongs to, and the 401 challenges for a missing, malformed or wrong header.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { checkAuthorization, parseTokenEntry, tokenListRing } from '../../services/gateway/auth.ts';
import { clientNameProblem } from '../../services/gateway/client-keys.ts';

const GOOD = 'hg_live_0123456789abcdef';
const OTHER = 'hg_live_fedcba9876543210xyz';

describe('tokenListRing', () => {
  it('knows exactly its tokens, whatever their lengths; each may publish every type, without a quota', () => {
    const tokens = tokenListRing([GOOD, OTHER]);
    assert.equal(tokens.size, 2);
    assert.ok(tokens.grantOf(GOOD));
    assert.ok(tokens.grantOf(OTHER));
    assert.equal(tokens.grantOf(GOOD.slice(0, -1)), undefined);
    assert.equal(tokens.grantOf(`${GOOD}x`), undefined);
    assert.equal(tokens.grantOf(''), undefined);
    assert.equal(tokenListRing([]).grantOf(GOOD), undefined);
    assert.equal(tokens.grantOf(GOOD)!.types, undefined);
    assert.equal(tokens.grantOf(GOOD)!.quota, undefined);
  });
});

describe('token entries', () => {
  it('"name:token" names the client; an unnamed token\'s client is key-<first 12 hex of its SHA-256>, never the token', () => {
    assert.deepEqual(parseTokenEntry(`web-app:${GOOD}`), { token: GOOD, name: 'web-app', client: 'web-app' });
    const unnamed = parseTokenEntry(GOOD);
    assert.equal(unnamed.client, `key-${createHash('sha256').update(GOOD).digest('hex').slice(0, 12)}`);
    assert.equal(unnamed.name, undefined);
    assert.ok(!unnamed.client.includes(GOOD.slice(0, 8)));
    assert.deepEqual(tokenListRing([`web-app:${GOOD}`]).grantOf(`web-app:${GOOD}`), undefined, 'the name is not part of the token');
  });

  it('client names: ^[a-z][a-z0-9_.-]{0,62}$, and not the gateway\'s own', () => {
    for (const ok of ['a', 'web-app', 'ios_app.v2', 'x'.repeat(63)]) assert.equal(clientNameProblem(ok), undefined, ok);
    for (const bad of ['', 'Web', '1app', 'a b', 'a:b', 'x'.repeat(64), 'anonymous', 'key-abc']) assert.ok(clientNameProblem(bad), bad);
  });
});

describe('checkAuthorization', () => {
  const tokens = tokenListRing([GOOD]);

  it('accepts "Bearer <token>" (scheme case-insensitive), naming the client it belongs to', () => {
    const client = `key-${createHash('sha256').update(GOOD).digest('hex').slice(0, 12)}`;
    const clientOf = (outcome: ReturnType<typeof checkAuthorization>) => (outcome.ok ? outcome.grant.client : undefined);
    assert.equal(clientOf(checkAuthorization(`Bearer ${GOOD}`, tokens)), client);
    assert.equal(clientOf(checkAuthorization(`bearer ${GOOD}`, tokens)), client);
    const named = tokenListRing([`alice:${GOOD}`, `bob:${OTHER}`]);
    assert.equal(clientOf(checkAuthorization(`Bearer ${GOOD}`, named)), 'alice');
    assert.equal(clientOf(checkAuthorization(`Bearer ${OTHER}`, named)), 'bob');
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
