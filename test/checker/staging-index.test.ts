// The staging index with staged notices: what it lists and when. Notices keep a type's view up to date without a
// listing; a close-deciding caller, a change made by the checker, a failed subscription and the relist interval
// each force a listing, and a notice that was lost is recovered by the relist.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StagingIndex } from '../../services/checker/staging-index.ts';
import { ForwardingStorage } from '../../services/storage/forwarding-storage.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { STAGING_MANIFEST_FORMAT, type StagingManifest } from '../../services/storage/staging-manifest.ts';
import type { ObjectInfo } from '../../services/storage/storage.ts';

const WINDOW_S = 60;
const TYPE = 'track_played';
const ref = (index: number) => ({ type: TYPE, index, lengthS: WINDOW_S });

/** Counts list requests; `beforeAnswer` runs after the listing was read and before it is returned (a write racing it). */
class ListCounting extends ForwardingStorage {
  lists = 0;
  beforeAnswer: (() => Promise<void>) | undefined;
  override async list(prefix: string): Promise<ObjectInfo[]> {
    this.lists++;
    const listed = await super.list(prefix);
    const hook = this.beforeAnswer;
    this.beforeAnswer = undefined;
    await hook?.();
    return listed;
  }
}

/** Writes a staged file and its manifest as a worker does; returns the manifest's key. */
async function stage(storage: LocalDirectoryStorage, window: number, name: string, events: number): Promise<string> {
  const file = `${layout.staging(ref(window))}${name}.avro`;
  await storage.createOnly(file, 'x');
  const manifest: StagingManifest = {
    format: STAGING_MANIFEST_FORMAT, type: TYPE, window, windowS: WINDOW_S, version: 2, codec: 'null', file, bytes: 1, sha256: '', events,
    minReceiveUs: 0, maxReceiveUs: 0, writtenAtUs: 0, worker: 'w',
    messages: [{ publisher: 'p', firstSeq: 0, count: events, offset: 0, length: 1, clientIds: false, minReceiveUs: 0, maxReceiveUs: 0, messageId: name }],
  };
  const key = `${layout.staging(ref(window))}${name}.manifest.json`;
  await storage.createOnly(key, JSON.stringify(manifest));
  return key;
}

const stagedNames = (windows: Map<number, { staged: Array<{ key: string }> }>, w: number) => (windows.get(w)?.staged ?? []).map((m) => path.basename(m.key)).sort();

describe('staging index with staged notices', () => {
  let dir: string;
  let local: LocalDirectoryStorage;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hg-staging-index-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const fresh = async (name: string) => {
    local = await LocalDirectoryStorage.open(path.join(dir, name));
    const storage = new ListCounting(local);
    return { storage, index: new StagingIndex(storage, WINDOW_S, 30_000) };
  };

  it('without notices, lists on every call', async () => {
    const { storage, index } = await fresh('plain');
    await stage(local, 100, 'a', 3);
    for (let i = 0; i < 3; i++) await index.windows(TYPE, { nowMs: i });
    assert.equal(storage.lists, 3);
  });

  it('with notices, a noticed file is known without a listing; one not noticed shows up at the relist', async () => {
    const { storage, index } = await fresh('noticed');
    index.trustNotices();
    await stage(local, 100, 'a', 3);
    assert.deepEqual(stagedNames(await index.windows(TYPE, { nowMs: 0 }), 100), ['a.manifest.json']);
    assert.equal(storage.lists, 1);
    index.noticed(TYPE, await stage(local, 100, 'b', 2), 1);
    const lost = await stage(local, 100, 'c', 4); // its notice is lost
    const seen = await index.windows(TYPE, { nowMs: 1000 });
    assert.deepEqual(stagedNames(seen, 100), ['a.manifest.json', 'b.manifest.json']);
    assert.equal(seen.get(100)!.orphans.length, 0, 'a noticed manifest names its file: not an orphan');
    assert.equal(storage.lists, 1, 'no listing while the view is fresh');
    assert.equal(index.fromNotices, 1);
    // The relist interval recovers what the lost notice hid.
    const relisted = await index.windows(TYPE, { nowMs: 30_000 });
    assert.deepEqual(stagedNames(relisted, 100), ['a.manifest.json', 'b.manifest.json', path.basename(lost)]);
    assert.equal(storage.lists, 2);
  });

  it('lists when told to, when the view holds a window the caller picks, after changed(), after forget(), and while notices are distrusted', async () => {
    const { storage, index } = await fresh('forced');
    index.trustNotices();
    await stage(local, 100, 'a', 1);
    await index.windows(TYPE, { nowMs: 0 });
    await index.windows(TYPE, { nowMs: 1, mustList: true });
    assert.equal(storage.lists, 2);
    await index.windows(TYPE, { nowMs: 2, listIfAny: (w) => w <= 99 });
    assert.equal(storage.lists, 2, 'no window picked: from the view');
    await index.windows(TYPE, { nowMs: 3, listIfAny: (w) => w <= 100 });
    assert.equal(storage.lists, 3, 'window 100 picked (it may close): listed');
    index.changed(TYPE);
    await index.windows(TYPE, { nowMs: 4 });
    assert.equal(storage.lists, 4);
    index.forget(TYPE);
    await index.windows(TYPE, { nowMs: 5 });
    assert.equal(storage.lists, 5);
    index.distrustNotices();
    await index.windows(TYPE, { nowMs: 6 });
    await index.windows(TYPE, { nowMs: 7 });
    assert.equal(storage.lists, 7);
    // Trusted again: a view listed before (under the old subscription) is not used; the next listing is.
    index.trustNotices();
    await index.windows(TYPE, { nowMs: 8 });
    await index.windows(TYPE, { nowMs: 9 });
    assert.equal(storage.lists, 8);
  });

  it('keeps a notice that arrives while a listing is in flight (the listing may predate its file)', async () => {
    const { storage, index } = await fresh('racing');
    index.trustNotices();
    await stage(local, 100, 'a', 1);
    await index.windows(TYPE, { nowMs: 0 });
    index.changed(TYPE);
    storage.beforeAnswer = async () => index.noticed(TYPE, await stage(local, 100, 'late-listed', 1), 1);
    const listed = await index.windows(TYPE, { nowMs: 1 });
    assert.deepEqual(stagedNames(listed, 100), ['a.manifest.json', 'late-listed.manifest.json']);
    assert.equal(storage.lists, 2);
  });

  it('drops a notice whose object is gone (delivered after its window closed), without calling it unreadable', async () => {
    const { storage, index } = await fresh('phantom');
    index.trustNotices();
    await index.windows(TYPE, { nowMs: 0 });
    index.noticed(TYPE, `${layout.staging(ref(100))}gone.manifest.json`, 1);
    const seen = await index.windows(TYPE, { nowMs: 2 });
    assert.equal(seen.size, 0, 'neither the manifest nor its file is in the view');
    assert.equal(index.unreadable.size, 0);
    assert.equal(storage.lists, 1);
  });
});
