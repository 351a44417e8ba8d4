// The coverage store: every type's files read with one listing, and files that replicas gone for good left behind merged into
// the owner's saved file, then removed, never losing a seq.
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CoverageStore, coverageKey } from '../../services/checker/coverage-store.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const HOUR_MS = 3600 * 1000;

describe('coverage of replicas gone for good', () => {
  it('is removed once merged and saved by the owner: only files of replicas not live, unwritten for the stale age, at the version merged', async () => {
    const root = await tempDir('hg-sweep-');
    const storage = await LocalDirectoryStorage.open(root);
    const saveAs = async (id: string, from: number, to: number, ageMs = 0) => {
      const c = new CoverageStore();
      c.add('t', 'p', from, to, 1);
      await c.save(storage, 't', id, () => true);
      const when = new Date(Date.now() - ageMs);
      if (ageMs > 0) await utimes(path.join(root, coverageKey('t', id)), when, when);
    };
    await saveAs('gone', 0, 10, 2 * HOUR_MS);
    await saveAs('alive-but-quiet', 10, 20, 2 * HOUR_MS);
    await saveAs('recent', 20, 30);
    await saveAs('rewritten', 30, 40, 2 * HOUR_MS);
    const owner = new CoverageStore();
    await owner.load(storage, 't');
    owner.add('t', 'p', 40, 50, 2);
    // Written again after the owner merged it: its new content is not in the owner's file, so it stays.
    await saveAs('rewritten', 30, 45, 2 * HOUR_MS);
    const sweep = () => owner.sweepMerged(storage, 't', 'owner', { nowMs: Date.now(), staleMs: HOUR_MS, live: new Set(['alive-but-quiet']) });
    // The caller saves its own file first (checker.ts, #saveCoverage): then what it merged may go.
    await owner.save(storage, 't', 'owner', () => true);
    assert.deepEqual(await sweep(), [coverageKey('t', 'gone')]);
    assert.deepEqual((await storage.list('checker/coverage/t/')).map((o) => o.key).sort(), ['alive-but-quiet', 'owner', 'recent', 'rewritten'].map((id) => coverageKey('t', id)).sort());
    // Not a seq lost: a new replica reading what is left knows every run, the removed file's included.
    const reader = new CoverageStore();
    await reader.load(storage, 't');
    assert.deepEqual(reader.runs('t').get('p')?.runs.map((r) => [r.from, r.to]), [[0, 50]]);
    assert.deepEqual(await sweep(), [], 'nothing more to remove');
  });

  it('loadAll reads several types with one listing, and the same runs as load() type by type', async () => {
    const local = await LocalDirectoryStorage.open(await tempDir('hg-cov-'));
    let lists = 0;
    const storage = overrideStorage(local, { list: (p) => (lists++, local.list(p)) });
    for (const [i, type] of ['a', 'b', 'c'].entries()) {
      for (const id of ['r1', 'r2']) {
        const c = new CoverageStore();
        c.add(type, 'p', i * 100 + (id === 'r1' ? 0 : 10), i * 100 + (id === 'r1' ? 10 : 20), 1);
        await c.save(local, type, id, () => true);
      }
    }
    const all = new CoverageStore();
    await all.loadAll(storage, ['a', 'c']);
    assert.equal(lists, 1);
    const one = new CoverageStore();
    for (const type of ['a', 'c']) await one.load(local, type);
    for (const type of ['a', 'b', 'c']) assert.deepEqual(all.runs(type).get('p')?.runs, one.runs(type).get('p')?.runs, type);
    assert.deepEqual(all.runs('c').get('p')?.runs.map((r) => [r.from, r.to]), [[200, 220]]);
    assert.equal(all.runs('b').size, 0, 'a type not asked for is not read');
  });
});
