// The storage contract every backend must pass: one suite, run against the local directory and fake-gcs-server.
//
// Every test runs the backend under the write-rate guard (as openStorage() does), with a clock the test
// moves on, so a test that rewrites a name within a second fails as it would on Cloud Storage.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { ChangedObjects } from '../../services/storage/changed-objects.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { MIN_REWRITE_INTERVAL_MS, WriteRateGuard } from '../../services/storage/write-rate-guard.ts';

export function storageContract(openBackend: () => Promise<Storage>): void {
  let nowMs = 0;
  const open = async () => new WriteRateGuard(await openBackend(), () => nowMs);
  /** A second passes. */
  const later = () => void (nowMs += MIN_REWRITE_INTERVAL_MS);

  it('create-only writes a new object and refuses an existing one with HG_STORAGE_EXISTS', async () => {
    const s = await open();
    await s.createOnly('a/b/one.txt', 'first');
    await assert.rejects(s.createOnly('a/b/one.txt', 'second'), (e) => hasCode(e, 'HG_STORAGE_EXISTS'));
    await assert.rejects(s.createOnly('a/b/one.txt', 'firs'), (e) => hasCode(e, 'HG_STORAGE_EXISTS'), 'a prefix of the bytes is other bytes');
    assert.equal((await s.get('a/b/one.txt')).toString(), 'first');
  });

  it('create-only of exactly the bytes already there succeeds: a retried write whose first attempt landed', async () => {
    const s = await open();
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    await s.createOnly('retry/one.bin', bytes);
    await s.createOnly('retry/one.bin', Buffer.from(bytes));
    await s.createOnly('retry/text', 'same');
    await s.createOnly('retry/text', 'same');
    const other = Buffer.from(bytes);
    other[other.length - 1] = (other[other.length - 1] ?? 0) ^ 1;
    await assert.rejects(s.createOnly('retry/one.bin', other), (e) => hasCode(e, 'HG_STORAGE_EXISTS'), 'one byte differs');
    assert.deepEqual(await s.get('retry/one.bin'), bytes);
  });

  it('one write per object name per second: a faster rewrite is refused with the retryable HG_STORAGE_RATE_LIMITED', async () => {
    const s = await open();
    await s.put('rate/state.json', 'v1');
    await assert.rejects(s.put('rate/state.json', 'v2'), (e) => hasCode(e, 'HG_STORAGE_RATE_LIMITED') && e.retryable && e.httpStatus === 429);
    assert.equal((await s.get('rate/state.json')).toString(), 'v1', 'the refused write did not happen');
    await s.put('rate/other.json', 'x'); // another name is not limited
    // A create-only write to the object just written changes nothing: not a rewrite.
    await assert.rejects(s.createOnly('rate/state.json', 'v3'), (e) => hasCode(e, 'HG_STORAGE_EXISTS'));
    // Deleted and created again within the second: a rewrite.
    await s.delete('rate/state.json');
    await assert.rejects(s.createOnly('rate/state.json', 'v4'), (e) => hasCode(e, 'HG_STORAGE_RATE_LIMITED'));
    await s.createOnly('rate/src', 's');
    await assert.rejects(s.copy('rate/src', 'rate/state.json'), (e) => hasCode(e, 'HG_STORAGE_RATE_LIMITED'));
    later();
    await s.put('rate/state.json', 'v5');
    assert.equal((await s.get('rate/state.json')).toString(), 'v5');
    assert.equal((s as WriteRateGuard).refused.length, 3);
  });

  it('exactly one of many concurrent create-only writers wins', async () => {
    const s = await open();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s.createOnly('race/_SUCCESS', `writer ${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(hasCode(r.reason, 'HG_STORAGE_EXISTS'));
    assert.match((await s.get('race/_SUCCESS')).toString(), /^writer \d$/);
  });

  it('put replaces, get returns bytes, ranged get returns a slice', async () => {
    const s = await open();
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await s.put('blob/data.bin', 'old');
    later();
    await s.put('blob/data.bin', bytes);
    assert.deepEqual(await s.get('blob/data.bin'), bytes);
    assert.deepEqual(await s.getRange('blob/data.bin', 10, 20), bytes.subarray(10, 20));
    assert.equal((await s.stat('blob/data.bin'))?.size, 1000);
  });

  it('get and stat of a missing object: HG_STORAGE_NOT_FOUND and undefined', async () => {
    const s = await open();
    await assert.rejects(s.get('missing/thing'), (e) => hasCode(e, 'HG_STORAGE_NOT_FOUND'));
    await assert.rejects(s.getRange('missing/thing', 0, 3), (e) => hasCode(e, 'HG_STORAGE_NOT_FOUND'));
    assert.equal(await s.stat('missing/thing'), undefined);
  });

  it("an object's listed version stays while it is unchanged and changes with every write, so a poller reads only what changed", async () => {
    const s = await open();
    await s.put('versions/a.json', 'aaaa');
    await s.put('versions/b.json', 'bbbb');
    const seen = new ChangedObjects();
    const listed = async () => s.list('versions/');
    const first = await listed();
    assert.ok(first.every((o) => o.version !== ''), 'every backend gives a version');
    assert.deepEqual(seen.changed(first).map((o) => o.key), ['versions/a.json', 'versions/b.json']);
    for (const o of first) seen.noteRead(o);
    assert.deepEqual(seen.changed(await listed()), [], 'nothing written: nothing to read');
    assert.equal((await s.stat('versions/a.json'))?.version, first[0]!.version, 'stat and list agree');
    later();
    await s.put('versions/a.json', 'AAAA'); // same size, within the same millisecond as likely as not
    const second = await listed();
    assert.deepEqual(seen.changed(second).map((o) => o.key), ['versions/a.json']);
    assert.notEqual(second[0]!.version, first[0]!.version);
    for (const o of second) seen.noteRead(o);
    await s.delete('versions/b.json');
    later();
    await s.put('versions/b.json', 'bbbb'); // deleted, then the same bytes again: a new object
    assert.deepEqual(seen.changed(await listed()).map((o) => o.key), ['versions/b.json']);
  });

  it('list by prefix is exact: hour=1/ never matches hour=10/', async () => {
    const s = await open();
    for (const key of ['t/dt=2026-01-01/hour=1/part-0.avro', 't/dt=2026-01-01/hour=10/part-0.avro', 't/dt=2026-01-01/hour=1/_SUCCESS', 't/dt=2026-01-01/hour=11', 'u/x']) {
      await s.put(key, key);
    }
    const keys = async (prefix: string) => (await s.list(prefix)).map((o) => o.key);
    assert.deepEqual(await keys('t/dt=2026-01-01/hour=1/'), ['t/dt=2026-01-01/hour=1/_SUCCESS', 't/dt=2026-01-01/hour=1/part-0.avro']);
    assert.deepEqual(await keys('t/dt=2026-01-01/hour=1'), [
      't/dt=2026-01-01/hour=1/_SUCCESS',
      't/dt=2026-01-01/hour=1/part-0.avro',
      't/dt=2026-01-01/hour=10/part-0.avro',
      't/dt=2026-01-01/hour=11',
    ]);
    assert.deepEqual(await keys('t/dt=2026-01-02/'), []);
    assert.deepEqual(await keys('nothing-here/'), []);
    assert.equal((await s.list('t/dt=2026-01-01/hour=10/'))[0]?.size, 't/dt=2026-01-01/hour=10/part-0.avro'.length);
  });

  it('copy makes a create-only copy; the source stays and later changes of it do not leak', async () => {
    const s = await open();
    await s.createOnly('copy/src.bin', 'payload');
    await s.copy('copy/src.bin', 'copy/deeper/dst.bin');
    assert.equal((await s.get('copy/deeper/dst.bin')).toString(), 'payload');
    await assert.rejects(s.copy('copy/src.bin', 'copy/deeper/dst.bin'), (e) => hasCode(e, 'HG_STORAGE_EXISTS'));
    await assert.rejects(s.copy('copy/missing', 'copy/other'), (e) => hasCode(e, 'HG_STORAGE_NOT_FOUND'));
    later();
    await s.put('copy/src.bin', 'replaced');
    assert.equal((await s.get('copy/deeper/dst.bin')).toString(), 'payload');
    await s.delete('copy/src.bin');
    assert.equal((await s.get('copy/deeper/dst.bin')).toString(), 'payload');
  });

  it('delete removes an object; deleting an absent one is fine', async () => {
    const s = await open();
    await s.createOnly('del/me', 'x');
    await s.delete('del/me');
    await s.delete('del/me');
    assert.equal(await s.stat('del/me'), undefined);
    assert.deepEqual(await s.list('del/'), []);
    later();
    await s.createOnly('del/me', 'again');
  });

  it('refuses malformed keys with HG_STORAGE_BAD_KEY', async () => {
    const s = await open();
    for (const key of ['', '/abs', 'trailing/', 'a/../b', 'a//b', './x', '.hourglass-tmp/x']) {
      await assert.rejects(s.put(key, 'x'), (e) => hasCode(e, 'HG_STORAGE_BAD_KEY'), `key ${JSON.stringify(key)}`);
    }
  });
}
