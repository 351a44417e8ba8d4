// Closing survives writes that land but report a failure (a request timing out after the object was created):
// the committed close keeps its parts and finishes, in the same call or the next (found by the chaos suite).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeWindow, type CloseRequest } from '../../services/checker/window-closer.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowOf } from '../../services/wire/window.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A storage whose first create or copy to a key ending in `suffix` lands, then reports a failure; `fired` counts the failures reported. */
function landsThenFails(inner: Storage, suffix: string): { storage: Storage; fired: () => number } {
  let fired = 0;
  const failOnce = (key: string) => {
    if (fired > 0 || !key.endsWith(suffix)) return;
    fired++;
    throw new Error(`simulated timeout after ${key} was written`);
  };
  const storage = overrideStorage(inner, {
    createOnly: async (key, data) => {
      await inner.createOnly(key, data);
      failOnce(key);
    },
    copy: async (from, to) => {
      await inner.copy(from, to);
      failOnce(to);
    },
  });
  return { storage, fired: () => fired };
}

describe('closing a window when a write lands but reports a failure', () => {
  for (const suffix of ['_MANIFEST.json', 'plan.json', '.avro', '_SUCCESS']) {
    it(`${suffix}: one closed window with every listed part in place and _SUCCESS, at most one retry later`, async () => {
      const registry = await Registry.load();
      const local = await LocalDirectoryStorage.open(await tempDir());
      const staged = await stageMessages(local, registry, [
        { publisher: 'a', firstSeq: 0, count: 20 },
        { publisher: 'b', firstSeq: 0, count: 30, receiveUs: BASE_RECEIVE_US + 1000 },
      ]);
      const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
      const req: CloseRequest = {
        ref, status: 'complete', reason: 'test', proofs: [], manifests: staged, segments: [], closer: 'test',
        nowMs: () => Date.now(), maxPartBytes: 1 << 30, codec: 'deflate', clientIdHorizonUs: 600e6,
      };
      const flaky = landsThenFails(local, suffix);
      let manifest;
      try {
        manifest = await closeWindow(flaky.storage, registry, req);
      } catch (err) {
        assert.match((err as Error).message, /simulated timeout/, 'the first attempt fails only by the injected fault');
        manifest = await closeWindow(flaky.storage, registry, req); // the next round
      }
      assert.equal(flaky.fired(), 1, `the write of a ${suffix} landed and reported a failure, once`);
      assert.equal(manifest.events, 50);
      const dir = layout.closed(ref);
      const names = (await local.list(dir)).map((o) => o.key.slice(dir.length)).sort();
      assert.deepEqual(names, [...manifest.files.map((f) => f.name), '_MANIFEST.json', '_SUCCESS'].sort());
      const onDisk = JSON.parse((await local.get(dir + '_MANIFEST.json')).toString('utf8')) as { attempt: string };
      assert.equal(onDisk.attempt, manifest.attempt, 'the manifest returned is the one committed');
    });
  }
});
