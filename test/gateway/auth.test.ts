// Bearer-token checks: the token set, and the 401 challenges for a missing, malformed or wrong header.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAuthorization, TokenSet } from '../../services/gateway/auth.ts';

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

describe('checkAuthorization', () => {
  const tokens = new TokenSet([GOOD]);

  it('accepts "Bearer <token>" (scheme case-insensitive)', () => {
    assert.deepEqual(checkAuthorization(`Bearer ${GOOD}`, tokens), { ok: true });
    assert.deepEqual(checkAuthorization(`bearer ${GOOD}`, tokens), { ok: true });
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
