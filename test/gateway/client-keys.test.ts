// Per-client keys: the keys document (every problem at once, never a key's value), the quota buckets on a driven clock, and the file's hot reload.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { hasCode } from '../../services/errors/catalogue.ts';
import { mayPublish, parseKeysDocument } from '../../services/gateway/client-keys.ts';
import { ClientQuotas } from '../../services/gateway/client-quotas.ts';
import { KeyFileSource } from '../../services/gateway/key-file-source.ts';
import { silentLogger, type GatewayLogger } from '../../services/gateway/log.ts';

const KNOWN = new Set(['track_played', 'search_performed', 'page_viewed']);
const known = (t: string) => KNOWN.has(t);
const TOKEN_A = 'checkout_0123456789abcdef';
const TOKEN_B = 'search-svc_fedcba9876543210';
const quota = { eventsPerS: 100, bytesPerS: 100_000 };

function problemsOf(text: string): string[] {
  try {
    parseKeysDocument(text, known);
  } catch (err) {
    assert.ok(hasCode(err, 'HG_CONFIG_INVALID'), String(err));
    return (err.details as { problems: string[] }).problems;
  }
  assert.fail('expected HG_CONFIG_INVALID');
}

describe('keys document', () => {
  it('maps each key, as a token or its SHA-256, to its client, types and quota; keys of one client share one grant', () => {
    const digestB = createHash('sha256').update(TOKEN_B).digest('hex');
    const { ring, unknownTypes } = parseKeysDocument(
      JSON.stringify({
        clients: [
          { client: 'checkout', keys: [TOKEN_A, `${TOKEN_A}-next`], types: ['track_played'], quota: { ...quota, burstS: 3 } },
          { client: 'search', keys: [`sha256:${digestB}`], types: ['*'], quota },
          { client: 'early', keys: ['early_token_0123456789'], types: ['not_deployed_yet'], quota },
        ],
      }),
      known,
    );
    assert.equal(ring.size, 4);
    assert.deepEqual(ring.clients(), ['checkout', 'search', 'early']);
    const a = ring.grantOf(TOKEN_A)!;
    assert.equal(a.client, 'checkout');
    assert.equal(a, ring.grantOf(`${TOKEN_A}-next`), 'one grant per client');
    assert.deepEqual(a.quota, { eventsPerS: 100, bytesPerS: 100_000, burstS: 3 });
    assert.ok(mayPublish(a, 'track_played'));
    assert.ok(!mayPublish(a, 'search_performed'));
    const b = ring.grantOf(TOKEN_B)!;
    assert.equal(b.client, 'search');
    assert.equal(b.quota!.burstS, 1, 'burstS defaults to 1');
    assert.ok(mayPublish(b, 'page_viewed') && mayPublish(b, 'anything'));
    assert.equal(ring.grantOf(`sha256:${digestB}`), undefined, 'the digest is not itself a key');
    assert.equal(ring.grantOf(TOKEN_A.slice(1)), undefined);
    assert.deepEqual(unknownTypes, ['not_deployed_yet'], 'an unknown type is reported, not refused');
  });

  it('reports every problem at once, by position, never echoing a key', () => {
    const problems = problemsOf(
      JSON.stringify({
        clients: [
          { client: 'Bad Name', keys: ['short'], types: [], quota: { eventsPerS: 0, bytesPerS: 'lots' } },
          { client: 'dup', keys: [TOKEN_A, 'sha256:XYZ'], types: ['*', 'track_played'], quota },
          { client: 'dup', keys: [TOKEN_A], types: ['track_played'], quota, extra: 1 },
          { client: 'anonymous', keys: [], types: ['track_played'] },
        ],
        version: 2,
      }),
    );
    const all = problems.join('\n');
    for (const expected of [
      /clients\[0\]\.client "Bad Name" must match/,
      /clients\[0\]\.types must be a non-empty array/,
      /clients\[0\]\.quota\.eventsPerS must be a number above 0/,
      /clients\[0\]\.quota\.bytesPerS must be a number above 0/,
      /clients\[0\]\.keys\[0\] must be 16\.\.4096 characters long/,
      /clients\[1\]\.keys\[1\]: "sha256:" must be followed by 64 lowercase hex digits/,
      /clients\[1\]\.types: "\*" grants every type and stands alone/,
      /clients\[2\]\.client "dup" appears twice/,
      /clients\[2\]: unknown field "extra"/,
      /clients\[2\]\.keys\[0\] is the same key as clients\[1\]\.keys\[0\]/,
      /clients\[3\]\.client "anonymous" .*reserved/,
      /clients\[3\]\.quota must be an object/,
      /clients\[3\]\.keys must be a non-empty array/,
      /unknown field "version" at the top level/,
    ]) {
      assert.match(all, expected);
    }
    assert.equal(problems.length, 14, all);
    assert.doesNotMatch(all, /short|checkout_0123/, 'never a key');
  });

  it('refuses what is not a keys document', () => {
    assert.match(problemsOf('[]').join(), /must be an object \{"clients": \[...\]\}/);
    assert.throws(() => parseKeysDocument('{"clients": [', known), /not valid JSON/);
  });

  it('never throws anything but HG_CONFIG_INVALID, whatever the JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (top, client) => {
        for (const doc of [top, { clients: [client] }, { clients: [{ client: 'x', keys: [client], types: [client], quota: client }] }]) {
          try {
            parseKeysDocument(JSON.stringify(doc), known);
          } catch (err) {
            if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
          }
        }
      }),
    );
  });
});

describe('client quotas (driven clock)', () => {
  const q = { eventsPerS: 10, bytesPerS: 1000, burstS: 2 };

  it('lets a client spend its burst, then refuses it until the debt is repaid, with Retry-After in whole seconds', () => {
    let now = 0;
    const quotas = new ClientQuotas(() => now);
    assert.ok(quotas.check('a', q).ok);
    quotas.charge('a', q, 20, 100);
    assert.ok(quotas.check('a', q).ok, 'exactly the burst spent: not in debt');
    quotas.charge('a', q, 1, 10);
    assert.deepEqual(quotas.check('a', q), { ok: false, retryAfterS: 1 }, 'one event of debt at 10/s: a tenth of a second, said as 1 s');
    now = 150;
    assert.ok(quotas.check('a', q).ok, 'refilled half an event');
    quotas.charge('a', q, 45, 100); // a request larger than the burst goes into debt
    const refused = quotas.check('a', q);
    assert.equal(refused.ok, false);
    assert.equal(refused.retryAfterS, 5, '44.5 events of debt at 10/s');
    now += 4000;
    assert.equal(quotas.check('a', q).ok, false, 'still 4.5 events short');
    now += 450;
    assert.ok(quotas.check('a', q).ok);
    assert.ok(quotas.check('b', q).ok, 'another client has its own buckets');
  });

  it('bytes are a quota of their own', () => {
    let now = 0;
    const quotas = new ClientQuotas(() => now);
    quotas.charge('a', q, 1, 4000);
    assert.deepEqual(quotas.check('a', q), { ok: false, retryAfterS: 2 });
    now = 1999;
    assert.equal(quotas.check('a', q).ok, false);
    now = 2000;
    assert.ok(quotas.check('a', q).ok);
  });

  it('over any interval, what a client is let in stays within rate × (T + burst) plus one request', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 500 }), events: fc.integer({ min: 1, max: 50 }) }), { minLength: 1, maxLength: 200 }),
        (requests) => {
          let now = 0;
          const quotas = new ClientQuotas(() => now);
          let admitted = 0;
          let largest = 0;
          for (const r of requests) {
            now += r.gapMs;
            const verdict = quotas.check('c', q);
            assert.ok(verdict.ok || (verdict.retryAfterS >= 1 && Number.isInteger(verdict.retryAfterS)));
            if (verdict.ok) {
              quotas.charge('c', q, r.events, 0);
              admitted += r.events;
              largest = Math.max(largest, r.events);
            }
          }
          assert.ok(admitted <= q.eventsPerS * (now / 1000 + q.burstS) + largest, `${admitted} events in ${now} ms`);
        },
      ),
    );
  });

  it('forgets removed clients', () => {
    let now = 0;
    const quotas = new ClientQuotas(() => now);
    quotas.charge('gone', q, 1000, 0);
    quotas.retain(new Set(['kept']));
    assert.ok(quotas.check('gone', q).ok, 'a client configured again starts with a full bucket');
    now++;
  });
});

describe('keys file source', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const doc = (clients: Array<{ client: string; keys: string[] }>) => JSON.stringify({ clients: clients.map((c) => ({ ...c, types: ['*'], quota })) });

  it('takes a new version at the next read (a key added, one revoked), keeps the keys in force when a version is bad, and logs that once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hg-keys-'));
    dirs.push(dir);
    const path = join(dir, 'keys.json');
    await writeFile(path, doc([{ client: 'checkout', keys: [TOKEN_A] }]));
    const events: string[] = [];
    const logger: GatewayLogger = { ...silentLogger, log: (_l, e) => void events.push(e), info: (e) => void events.push(e), warn: (e) => void events.push(e), error: (e) => void events.push(e) };
    const reloaded: string[][] = [];
    const source = await KeyFileSource.open({ path, reloadMs: 60_000, isKnownType: known, logger, onReload: (ring) => reloaded.push(ring.clients()) });
    try {
      assert.equal(source.ring.grantOf(TOKEN_A)?.client, 'checkout');
      await writeFile(path, doc([{ client: 'search', keys: [TOKEN_B] }]));
      await source.reload();
      assert.equal(source.ring.grantOf(TOKEN_A), undefined, 'revoked');
      assert.equal(source.ring.grantOf(TOKEN_B)?.client, 'search', 'added');
      assert.deepEqual(reloaded, [['search']]);
      await writeFile(path, '{"clients": [ {"client": "x"');
      await source.reload();
      await source.reload();
      assert.equal(source.ring.grantOf(TOKEN_B)?.client, 'search', 'a bad version leaves the keys in force');
      assert.equal(source.failedReloads, 1, 'a bad version counts once');
      await rm(path);
      await source.reload();
      assert.equal(source.ring.grantOf(TOKEN_B)?.client, 'search', 'an unreadable file too');
      assert.equal(source.failedReloads, 2);
      await writeFile(path, doc([{ client: 'search', keys: [TOKEN_B] }, { client: 'checkout', keys: [TOKEN_A] }]));
      await source.reload();
      assert.equal(source.ring.grantOf(TOKEN_A)?.client, 'checkout');
      assert.deepEqual(events, ['keys_loaded', 'keys_reloaded', 'keys_reload_failed', 'keys_reload_failed', 'keys_reloaded']);
    } finally {
      source.close();
    }
  });

  it('polls on its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hg-keys-'));
    dirs.push(dir);
    const path = join(dir, 'keys.json');
    await writeFile(path, doc([{ client: 'checkout', keys: [TOKEN_A] }]));
    const source = await KeyFileSource.open({ path, reloadMs: 100, isKnownType: known, logger: silentLogger });
    try {
      await writeFile(path, doc([{ client: 'checkout', keys: [TOKEN_B] }]));
      const deadline = Date.now() + 10_000;
      while (source.ring.grantOf(TOKEN_B) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(source.ring.grantOf(TOKEN_B)?.client, 'checkout');
      assert.equal(source.ring.grantOf(TOKEN_A), undefined);
    } finally {
      source.close();
    }
  });

  it('refuses to start on a missing or bad file (HG_CONFIG_INVALID)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hg-keys-'));
    dirs.push(dir);
    await assert.rejects(KeyFileSource.open({ path: join(dir, 'none.json'), reloadMs: 100, isKnownType: known, logger: silentLogger }), /cannot be read/);
    await writeFile(join(dir, 'bad.json'), '{"clients": 3}');
    await assert.rejects(KeyFileSource.open({ path: join(dir, 'bad.json'), reloadMs: 100, isKnownType: known, logger: silentLogger }), (err) => hasCode(err, 'HG_CONFIG_INVALID'));
  });
});
