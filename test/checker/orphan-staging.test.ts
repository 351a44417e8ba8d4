// Staged files no manifest names (a worker killed between a file and its manifest) are removed once their window is closed and they are old enough; younger ones stay (found by the chaos suite: staging never emptied).
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('orphaned staging files', () => {
  it('are removed after their window closed once older than the orphan age; a younger one (a manifest may still come) stays', async () => {
    const registry = await Registry.load();
    const storage = await LocalDirectoryStorage.open(await tempDir());
    await stageMessages(storage, registry, [{ publisher: 'pub-a', firstSeq: 0, count: 10 }]);
    const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
    const old = `${layout.staging(ref)}dead-worker-000007-v2.avro`;
    const young = `${layout.staging(ref)}slow-worker-000003-v2.avro`;
    await storage.createOnly(old, 'bytes of a file whose manifest never came');
    await storage.createOnly(young, 'bytes of a file whose manifest may still come');
    // The checker's clock: past the window's max wait, so it closes (incomplete: nobody heartbeats here).
    const nowMs = windowEndUs(ref.index, ref.lengthS) / 1000 + 120_000;
    const orphanAgeS = 60;
    const orphanAgeMs = orphanAgeS * 1000;
    await utimes(path.join(storage.root, ...old.split('/')), (nowMs - 2 * orphanAgeMs) / 1000, (nowMs - 2 * orphanAgeMs) / 1000);
    await utimes(path.join(storage.root, ...young.split('/')), (nowMs - orphanAgeMs / 2) / 1000, (nowMs - orphanAgeMs / 2) / 1000);
    const checker = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: storage.location, windowS: STAGED_WINDOW_S, checkerId: 'test', maxWaitMs: 60_000, orphanAgeS }),
      clock: { nowUs: () => nowMs * 1000 },
    });
    await checker.tick(); // closes the window
    await checker.tick(); // finds it closed: removes what is left of its staging
    assert.deepEqual(checker.errors, []);
    assert.ok(await storage.stat(`${layout.closed(ref)}_SUCCESS`), 'the window closed');
    assert.deepEqual((await storage.list(layout.staging(ref))).map((o) => o.key), [young], 'the old orphan is gone, the young one stays, the staged file was removed with its manifest');
    await checker.stop();
  });
});
