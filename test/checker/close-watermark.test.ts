// The close watermark: one object per replica, so no object takes a write a second from every replica; the highest
// mark read counts; the single file of earlier versions is still read; a replica rewrites its own at most once a second.
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CloseWatermarks, watermarkKey } from '../../services/checker/close-watermark.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { RewritePacer } from '../../services/storage/rewrite-pacer.ts';
import { MIN_REWRITE_INTERVAL_MS, WriteRateGuard } from '../../services/storage/write-rate-guard.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('close watermarks', () => {
  it('each replica writes its own mark; a replica starting later reads the highest, the legacy file included', async () => {
    const nowMs = 0;
    const storage = new WriteRateGuard(await LocalDirectoryStorage.open(await tempDir()), () => nowMs);
    const replica = (id: string) => new CloseWatermarks(storage, 2, id, new RewritePacer(() => nowMs));
    const a = replica('a');
    const b = replica('b');
    assert.equal(await a.get('t', 100), 100, 'nothing saved: the initial mark');
    await a.advance('t', 105);
    assert.equal(await b.get('t', 100), 105);
    await b.advance('t', 107);
    // Both replicas advanced within the same second: no object was written twice.
    assert.deepEqual(storage.refused, []);
    assert.deepEqual((await storage.list('checker/watermarks/')).map((o) => o.key), [watermarkKey('t', 2, 'a'), watermarkKey('t', 2, 'b')]);
    assert.equal(await replica('c').get('t', 100), 107);
    await storage.put('checker/watermarks/t-2s.json', JSON.stringify({ type: 't', windowS: 2, closedThrough: 110 }));
    assert.equal(await replica('d').get('t', 100), 110, 'the one file earlier versions wrote');
    assert.equal(await replica('e').get('t-other', 100), 100, 'another type\'s marks are not read');
    // A type handed over to a replica that started after the last saved mark: it goes on from the mark, not from its own start.
    const late = replica('f');
    assert.equal(await late.get('t', 200), 110, 'saved marks win over a later initial one');
    await replica('g').advance('t', 120);
    assert.equal(await late.get('t', 200), 110, 'known here: not read again every round');
    late.forget('t');
    assert.equal(await late.get('t', 200), 120, 'forgotten (the type went to another replica and came back): read again');
  });

  it('a replica rewrites its mark at most once a second, and saves the latest value once it may', async () => {
    let nowMs = 0;
    const storage = new WriteRateGuard(await LocalDirectoryStorage.open(await tempDir()), () => nowMs);
    const marks = new CloseWatermarks(storage, 2, 'a', new RewritePacer(() => nowMs));
    const saved = async () => JSON.parse((await storage.get(watermarkKey('t', 2, 'a'))).toString('utf8')).closedThrough as number;
    await marks.get('t', 10);
    await marks.advance('t', 11);
    nowMs += 400;
    await marks.advance('t', 12);
    nowMs += 400;
    await marks.advance('t', 13);
    assert.equal(await saved(), 11, 'not rewritten within the second');
    assert.deepEqual(storage.refused, []);
    nowMs += MIN_REWRITE_INTERVAL_MS;
    await marks.advance('t', 13); // no new close this round: the unsaved mark is saved now
    assert.equal(await saved(), 13);
    assert.equal(await marks.get('t', 0), 13);
  });

  it("removes the marks of replicas gone for good once its own saved mark is at least theirs, so the highest mark stays", async () => {
    const root = await tempDir();
    const storage = await LocalDirectoryStorage.open(root);
    const HOUR_MS = 3600 * 1000;
    const old = new Date(Date.now() - 2 * HOUR_MS);
    for (const [id, closedThrough] of [['gone-low', 100], ['gone-high', 130], ['alive', 90], ['rewritten', 95]] as const) {
      await storage.put(watermarkKey('t', 2, id), JSON.stringify({ type: 't', windowS: 2, closedThrough }));
      await utimes(path.join(root, watermarkKey('t', 2, id)), old, old);
    }
    const me = new CloseWatermarks(storage, 2, 'me', new RewritePacer());
    assert.equal(await me.get('t', 0), 130);
    const sweep = () => me.sweep('t', { nowMs: Date.now(), staleMs: HOUR_MS, live: new Set(['alive']) });
    assert.deepEqual(await sweep(), [], 'nothing before its own mark is saved');
    // Written again since get() read it (a new version, as old by its time): kept.
    await storage.put(watermarkKey('t', 2, 'rewritten'), JSON.stringify({ type: 't', windowS: 2, closedThrough: 96 }));
    await utimes(path.join(root, watermarkKey('t', 2, 'rewritten')), old, old);
    await me.advance('t', 120); // saves the highest it knows: 130
    assert.deepEqual((await sweep()).sort(), [watermarkKey('t', 2, 'gone-high'), watermarkKey('t', 2, 'gone-low')], 'not alive (live), nor rewritten (a new version)');
    assert.equal(await new CloseWatermarks(storage, 2, 'next', new RewritePacer()).get('t', 0), 130, 'the highest mark stays');
    assert.deepEqual((await storage.list('checker/watermarks/')).map((o) => o.key).sort(), ['alive', 'me', 'rewritten'].map((id) => watermarkKey('t', 2, id)).sort());
  });
});
