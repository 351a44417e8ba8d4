// The storage contract every backend must pass: one suite, run against the local directory and fake-gcs-server.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import type { Storage } from '../../services/storage/storage.ts';

export function storageContract(open: () => Promise<Storage>): void {
  it('create-only writes a new object and refuses an existing one with HG_STORAGE_EXISTS', async () => {
    const s = await open();
    await s.createOnly('a/b/one.txt', 'first');
    await assert.rejects(s.createOnly('a/b/one.txt', 'second'), (e) => hasCode(e, 'HG_STORAGE_EXISTS'));
    assert.equal((await s.get('a/b/one.txt')).toString(), 'first');
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
    await s.createOnly('del/me', 'again');
  });

  it('refuses malformed keys with HG_STORAGE_BAD_KEY', async () => {
    const s = await open();
    for (const key of ['', '/abs', 'trailing/', 'a/../b', 'a//b', './x', '.hourglass-tmp/x']) {
      await assert.rejects(s.put(key, 'x'), (e) => hasCode(e, 'HG_STORAGE_BAD_KEY'), `key ${JSON.stringify(key)}`);
    }
  });
}
