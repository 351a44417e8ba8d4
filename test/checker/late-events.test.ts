// Moving late events survives a crash between a late part and its manifest: the next attempt commits the manifest
// for the part already there, so no late file is ever left unlisted (found by the chaos suite). Staged by a real Worker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoverageStore } from '../../services/checker/coverage-store.ts';
import { moveLateEvents } from '../../services/checker/late-events.ts';
import { StagingIndex } from '../../services/checker/staging-index.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowOf } from '../../services/wire/window.ts';
import { stageMessages } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const WINDOW_S = 3600;

/** A storage whose first create of a late manifest fails, as if the checker died right after writing the late part. */
function crashBeforeFirstLateManifest(inner: Storage): Storage {
  let crashed = false;
  return overrideStorage(inner, {
    createOnly: async (key, data) => {
      if (!crashed && key.startsWith('late/') && key.endsWith('.manifest.json')) {
        crashed = true;
        throw new Error('simulated crash before the late manifest');
      }
      return inner.createOnly(key, data);
    },
  });
}

/** A bucket with one staged message in one window, and what moveLateEvents needs to move it. */
async function stagedInOneWindow(message: { publisher: string; firstSeq: number; count: number }) {
  const registry = await Registry.load();
  const local = await LocalDirectoryStorage.open(await tempDir());
  await stageMessages(local, registry, [message]);
  const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, WINDOW_S), lengthS: WINDOW_S };
  const staged = async () => (await new StagingIndex(local, WINDOW_S).windows('track_played')).get(ref.index)?.staged ?? [];
  const options = { maxPartBytes: 1 << 30, codec: 'deflate' as const, closer: 'test', nowMs: Date.now(), clientIdHorizonUs: 600e6, closedAttempt: 'none' };
  return { registry, local, ref, staged, options };
}

describe('late events', () => {
  it('a crash between the late part and its manifest: the next attempt lists the part in a manifest, with its seqs', async () => {
    const { registry, local, ref, staged, options } = await stagedInOneWindow({ publisher: 'late-pub', firstSeq: 40, count: 12 });

    await assert.rejects(moveLateEvents(crashBeforeFirstLateManifest(local), registry, new CoverageStore(), ref, await staged(), options), /simulated crash/);
    const dir = layout.late(ref);
    assert.equal((await local.list(dir)).filter((o) => o.key.endsWith('.avro')).length, 1, 'the late part was written before the crash');
    assert.equal((await staged()).length, 1, 'staging is kept until the late file is listed');

    const moved = await moveLateEvents(local, registry, new CoverageStore(), ref, await staged(), options);
    assert.deepEqual(moved, { events: 12, duplicates: 0, clientRetries: 0 });
    const keys = (await local.list(dir)).map((o) => o.key);
    const manifests = keys.filter((k) => k.endsWith('.manifest.json'));
    assert.equal(manifests.length, 1);
    const m = JSON.parse((await local.get(manifests[0]!)).toString('utf8')) as { events: number; files: Array<{ name: string; events: number }>; publishers: Record<string, Array<[number, number]>> };
    assert.equal(m.events, 12);
    assert.deepEqual(m.publishers, { 'late-pub': [[40, 52]] });
    assert.deepEqual(m.files.map((f) => dir + f.name), keys.filter((k) => k.endsWith('.avro')), 'every late part is listed');
    assert.deepEqual(await staged(), [], 'staging removed once listed');
  });

  it('a crash between removing a staged file and its manifest: the next attempt finishes the removal, moving nothing twice', async () => {
    const { registry, local, ref, staged, options } = await stagedInOneWindow({ publisher: 'late-pub', firstSeq: 0, count: 5 });
    // The first delete of a staging manifest fails: the staged file itself is already gone by then.
    let failed = false;
    const crashing = overrideStorage(local, {
      delete: async (key) => {
        if (!failed && key.endsWith('.manifest.json')) {
          failed = true;
          throw new Error('simulated crash between the staged file and its manifest');
        }
        return local.delete(key);
      },
    });
    await assert.rejects(moveLateEvents(crashing, registry, new CoverageStore(), ref, await staged(), options), /simulated crash/);
    const left = await staged();
    assert.equal(left.length, 1, 'the manifest is still there');
    assert.equal(await local.stat(left[0]!.manifest.file), undefined, 'its file is gone');
    assert.deepEqual(await moveLateEvents(local, registry, new CoverageStore(), ref, left, options), { events: 0, duplicates: 0, clientRetries: 0 });
    assert.deepEqual((await local.list('staging/')).map((o) => o.key), [], 'nothing is left in staging');
    const lateKeys = (await local.list(layout.late(ref))).map((o) => o.key);
    assert.equal(lateKeys.filter((k) => k.endsWith('.avro')).length, 1, 'the events were moved once');
    assert.equal(lateKeys.filter((k) => k.endsWith('.manifest.json')).length, 1);
  });
});
