// The closed window's index of client ids: the committed manifest always has one naming chunks that exist, whatever
// write fails, and an attempt that does not commit leaves nothing of its own under checker/client-ids/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientIdKey, clientIdsPrefix } from '../../services/checker/client-id-chunks.ts';
import { closedTimesOf, readClosedClientIds, removeUnlistedClientIds } from '../../services/checker/closed-client-ids.ts';
import { closeWindow, type CloseRequest } from '../../services/checker/window-closer.ts';
import { HourglassError } from '../../services/errors/catalogue.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const REF = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };

async function stagedWithIds() {
  const registry = await Registry.load();
  const local = await LocalDirectoryStorage.open(await tempDir());
  const staged = await stageMessages(local, registry, [{ publisher: 'a', count: 10, eventId: (seq) => (seq % 2 === 0 ? `app:id-${seq}` : undefined) }]);
  const req: CloseRequest = {
    ref: REF, status: 'complete', reason: 'test', proofs: [], manifests: staged, segments: [], closer: 'test',
    nowMs: () => Date.now(), maxPartBytes: 1 << 30, codec: 'deflate', clientIdHorizonUs: 600e6,
  };
  return { registry, local, req };
}

/** The first create of a key `matches` fails: before it lands, or after. */
function failOnce(inner: Storage, matches: (key: string) => boolean, landed: boolean): { storage: Storage; fired: () => number } {
  let fired = 0;
  const storage = overrideStorage(inner, {
    createOnly: async (key, data) => {
      if (fired === 0 && matches(key)) {
        fired++;
        if (landed) await inner.createOnly(key, data);
        throw new Error(`simulated failure of ${key} (${landed ? 'after' : 'before'} it landed)`);
      }
      return inner.createOnly(key, data);
    },
  });
  return { storage, fired: () => fired };
}

async function assertIndexed(local: Storage, attempt: string): Promise<void> {
  const index = await readClosedClientIds(local, REF, attempt);
  assert.ok(index, 'the committed attempt has its index');
  const found = await closedTimesOf(local, index, new Set([clientIdKey('app:id-0'), clientIdKey('app:id-8'), clientIdKey('app:id-1')]), 0, Number.MAX_SAFE_INTEGER);
  assert.equal(found.size, 2, 'the index finds the ids the window kept, and no other');
  // A late decision made meanwhile (by another checker, after the close) is the late area's, not debris.
  const decision = `${clientIdsPrefix(REF)}late-000000.json`;
  await local.createOnly(decision, '{}');
  await removeUnlistedClientIds(local, REF, attempt);
  const left = (await local.list(clientIdsPrefix(REF))).map((o) => o.key).sort();
  assert.deepEqual(left, [...index.chunks.map((c) => c.key), `${clientIdsPrefix(REF)}closed-${attempt}.json`, decision].sort(), 'nothing unlisted is left but the late decision');
}

describe('the closed window\'s client ids', () => {
  const writes: Array<[string, (key: string) => boolean]> = [
    ['the tail chunk', (key) => key.endsWith('.ids')],
    ['the index', (key) => key.startsWith(clientIdsPrefix(REF)) && key.endsWith('.json')],
    ['the manifest', (key) => key.endsWith('_MANIFEST.json')],
  ];
  for (const [what, matches] of writes) for (const landed of [false, true]) {
    it(`${what} fails ${landed ? 'after' : 'before'} landing: the committed manifest's index lists chunks that exist, and nothing else is left`, async () => {
      const { registry, local, req } = await stagedWithIds();
      const { storage, fired } = failOnce(local, matches, landed);
      let manifest;
      try {
        manifest = await closeWindow(storage, registry, req);
      } catch {
        manifest = await closeWindow(storage, registry, req); // the next round
      }
      assert.equal(fired(), 1, 'the failure fired');
      assert.equal(manifest.events, 10);
      await assertIndexed(local, manifest.attempt);
    });
  }

  it('an attempt that loses to another checker\'s commit removes its own index and tail chunk', async () => {
    const { registry, local, req } = await stagedWithIds();
    const winner = await closeWindow(local, registry, req);
    // A second attempt that planned before the first committed: its manifest create finds the winner's.
    let readOnce = false;
    const racing = overrideStorage(local, {
      get: async (key) => {
        // It reads no manifest at first (as if it planned before the commit), then the winner's.
        if (key.endsWith('_MANIFEST.json') && !readOnce) {
          readOnce = true;
          throw new HourglassError('HG_STORAGE_NOT_FOUND', 'not yet');
        }
        return local.get(key);
      },
    });
    const adopted = await closeWindow(racing, registry, req);
    assert.equal(adopted.attempt, winner.attempt, 'the loser adopts the winner\'s manifest');
    const left = (await local.list(clientIdsPrefix(REF))).map((o) => o.key.slice(clientIdsPrefix(REF).length)).sort();
    assert.deepEqual(left, [`closed-${winner.attempt}.json`, `tail-${winner.attempt}.ids`], 'only the winner\'s index and chunk');
  });
});
