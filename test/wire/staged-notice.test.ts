// Staged notices on the wire (services/wire/staged-notice.ts): what a worker encodes a checker parses back, byte for
// byte; anything else is refused with a reason, never thrown, and never names a key outside its type's staging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeStagedNotice, parseStagedNotice } from '../../services/wire/staged-notice.ts';

const typeName = fc.stringMatching(/^[a-z][a-z0-9_]{0,62}$/);
const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('/') && s !== '.' && s !== '..');
const suffix = fc.constantFrom('.manifest.json', '.deadletter.json');

describe('staged notices', () => {
  it('round trip: any type, window folder and name (every Unicode plane) of a manifest or note', () => {
    fc.assert(
      fc.property(typeName, segment, segment, suffix, (type, folder, name, end) => {
        const notice = { type, key: `staging/${type}/${folder}/${name}${end}` };
        const { data, attributes } = encodeStagedNotice(notice);
        assert.deepEqual(parseStagedNotice(data, attributes), { ok: true, value: notice });
        assert.ok(Buffer.from(notice.key, 'utf8').equals(data), 'the body is the key in UTF-8, nothing else');
      }),
      { numRuns: 500 },
    );
  });

  it('any bytes and attributes: refused with a reason or a key under the type staging folder, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.option(fc.dictionary(fc.constantFrom('type', 'kind', 'x'), fc.string({ maxLength: 30 }))), (bytes, attributes) => {
        const parsed = parseStagedNotice(Buffer.from(bytes), attributes ?? undefined);
        if (parsed.ok) {
          assert.ok(parsed.value.key.startsWith(`staging/${parsed.value.type}/`));
          assert.ok(!parsed.value.key.split('/').includes('..'));
        } else assert.ok(parsed.reason.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses, with the reason, a notice without type, outside its type, escaping its folder, or of another object', () => {
    const cases: Array<[string, Record<string, string> | undefined, RegExp]> = [
      ['staging/a/w/x.manifest.json', undefined, /without a "type"/],
      ['staging/b/w/x.manifest.json', { type: 'a' }, /not under staging\/a\//],
      ['staging/a/../b/x.manifest.json', { type: 'a' }, /not under/],
      ['staging/a/w/x.avro', { type: 'a' }, /neither a staging manifest nor a dead-letter note/],
      ['closed/a/w/_MANIFEST.json', { type: 'a' }, /not under/],
    ];
    for (const [key, attributes, reason] of cases) {
      const parsed = parseStagedNotice(Buffer.from(key), attributes);
      assert.equal(parsed.ok, false, key);
      if (!parsed.ok) assert.match(parsed.reason, reason, key);
    }
  });
});
