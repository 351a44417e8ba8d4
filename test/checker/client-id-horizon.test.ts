// Client event ids are de-duplicated within a stated horizon of receive time, so the dedup state (in memory and read
// from earlier segments) is bounded by the horizon, not by the window: staged files written by a real Worker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientIdKey } from '../../services/checker/client-id-chunks.ts';
import { compactSegment, type Segment } from '../../services/checker/segments.ts';
import type { IndexedManifest } from '../../services/checker/staging-index.ts';
import { compactWindow } from '../../services/checker/window-compactor.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowOf } from '../../services/wire/window.ts';
import { stageMessages } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const S = 1_000_000;
const HORIZON_US = 10 * S;
const WINDOW_S = 3600;

/** Three messages, one staged file each, whose events 3, 4 and 5 carry the client id "c-1": received at +0 s, +5 s and +60 s. */
function stageThree(storage: Storage, registry: Registry): Promise<IndexedManifest[]> {
  return stageMessages(storage, registry, [
    { publisher: 'p', receiveUs: BASE_RECEIVE_US, count: 10, eventId: (seq) => (seq === 3 ? 'c-1' : undefined) },
    { publisher: 'q', receiveUs: BASE_RECEIVE_US + 5 * S, count: 10, eventId: (seq) => (seq === 4 ? 'c-1' : undefined) },
    { publisher: 'r', receiveUs: BASE_RECEIVE_US + 60 * S, count: 10, eventId: (seq) => (seq === 5 ? 'c-1' : undefined) },
  ]);
}

/** A storage that counts reads of segments' client-id files. */
function countingIdReads(inner: Storage): { storage: Storage; idReads: string[] } {
  const idReads: string[] = [];
  const storage = overrideStorage(inner, {
    get: (key) => {
      if (key.endsWith('.ids')) idReads.push(key);
      return inner.get(key);
    },
  });
  return { storage, idReads };
}

describe('client event ids within a horizon', () => {
  it('drops a copy received within the horizon of the kept one, keeps one received beyond it (one compaction)', async () => {
    const registry = await Registry.load();
    const storage = await LocalDirectoryStorage.open(await tempDir());
    const [p, q, r] = await stageThree(storage, registry);
    const o = { type: 'track_played', window: windowOf(BASE_RECEIVE_US, WINDOW_S), outPrefix: 'out/', namePrefix: 'part', maxPartBytes: 1 << 30, codec: 'deflate' as const };
    const within = await compactWindow(storage, registry, [p!, q!, r!], { ...o, clientIdHorizonUs: HORIZON_US });
    assert.equal(within.events, 29, 'q\'s copy (5 s after p\'s) is dropped; r\'s (60 s after) is kept');
    assert.equal(within.clientRetryDropped, 1);
    const kept = within.keptClientIds.filter(([key]) => key === clientIdKey('c-1')).map(([, us]) => us);
    assert.deepEqual(kept, [BASE_RECEIVE_US + 3, BASE_RECEIVE_US + 60 * S + 5], 'every kept copy of the id is remembered, with its receive time');
    const wholeWindow = await compactWindow(storage, registry, [p!, q!, r!], { ...o, attempt: 'whole' });
    assert.equal(wholeWindow.events, 28, 'without a horizon, every copy after the first is dropped');
  });

  it('across segments: the same decisions, and a segment whose ids are all older than the horizon is not read', async () => {
    const registry = await Registry.load();
    const { storage, idReads } = countingIdReads(await LocalDirectoryStorage.open(await tempDir()));
    const [p, q, r] = await stageThree(storage, registry);
    const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, WINDOW_S), lengthS: WINDOW_S };
    const o = { codec: 'deflate' as const, maxPartBytes: 1 << 30, checker: 'test', clientIdHorizonUs: HORIZON_US };
    const chain: Segment[] = [];
    chain.push((await compactSegment(storage, registry, ref, chain, [p!], o))!);
    chain.push((await compactSegment(storage, registry, ref, chain, [q!], o))!);
    assert.equal(chain[1]!.clientRetries, 1, 'q\'s copy is within the horizon of p\'s, in the segment before');
    assert.deepEqual(idReads, [chain[0]!.clientIds!.key]);
    idReads.length = 0;
    chain.push((await compactSegment(storage, registry, ref, chain, [r!], o))!);
    assert.equal(chain[2]!.clientRetries, 0, 'r\'s copy is beyond the horizon: kept');
    assert.equal(chain[2]!.events, 10);
    assert.deepEqual(idReads, [], 'no earlier segment holds an id within the horizon of r\'s records: none is read');
  });
});
