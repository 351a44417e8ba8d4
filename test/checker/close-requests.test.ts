// What a close costs the bucket: the replica that commits a window's manifest does not list or read back what it wrote itself, and its closed-window event still names the SHA-256 of the manifest as stored; a waiting window's manifest is read when first met, then only once the rule would close it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { clientIdsPrefix } from '../../services/checker/client-id-chunks.ts';
import { coverageKey } from '../../services/checker/coverage-store.ts';
import { announcedKey } from '../../services/checker/window-announcer.ts';
import { closingRoot } from '../../services/checker/window-closer.ts';
import { Registry } from '../../services/registry/registry.ts';
import { ForwardingStorage } from '../../services/storage/forwarding-storage.ts';
import { HourglassError } from '../../services/errors/catalogue.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { ObjectInfo } from '../../services/storage/storage.ts';
import type { WindowClosedEvent } from '../../services/wire/window-closed-event.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Records every read and listing (kind and key). */
class ReadLog extends ForwardingStorage {
  readonly requests: Array<{ kind: string; key: string }> = [];

  override get(key: string): Promise<Buffer> {
    this.requests.push({ kind: 'get', key });
    return super.get(key);
  }

  override stat(key: string): Promise<ObjectInfo | undefined> {
    this.requests.push({ kind: 'stat', key });
    return super.stat(key);
  }

  override list(prefix: string): Promise<ObjectInfo[]> {
    this.requests.push({ kind: 'list', key: prefix });
    return super.list(prefix);
  }

  of(kind: string, key: string): number {
    return this.requests.filter((r) => r.kind === kind && r.key === key).length;
  }
}

describe('the requests of a close', () => {
  it('committed here: the window folder, the closing folder and the client ids are not listed, the plan and manifest not read back, the own coverage not re-read; the event hashes the stored manifest', async () => {
    const registry = await Registry.load();
    const local = await LocalDirectoryStorage.open(await tempDir());
    await stageMessages(local, registry, [
      { publisher: 'pub-a', firstSeq: 0, count: 10 },
      { publisher: 'pub-a', firstSeq: 10, count: 10 },
      { publisher: 'pub-b', firstSeq: 0, count: 5 },
    ]);
    const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
    const storage = new ReadLog(local);
    const events: WindowClosedEvent[] = [];
    // Past the max wait: the window closes (incomplete: no heartbeats here), in the first round.
    const nowMs = windowEndUs(ref.index, ref.lengthS) / 1000 + 120_000;
    const checker = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'test', maxWaitMs: 60_000 }),
      clock: { nowUs: () => nowMs * 1000 },
      announce: async (data) => void events.push(JSON.parse(data.toString('utf8')) as WindowClosedEvent),
    });
    await checker.tick();
    assert.deepEqual(checker.errors, []);
    const closed = layout.closed(ref);
    assert.ok(await local.stat(closed + layout.successName), 'the window closed');
    assert.equal(storage.of('get', closed + layout.manifestName), 1, 'the manifest is read once, before the attempt (not again before the commit, nor after it)');
    const manifest = JSON.parse((await local.get(closed + layout.manifestName)).toString('utf8')) as { attempt: string; events: number };
    assert.equal(manifest.events, 25);
    assert.equal(storage.of('get', `${closingRoot(ref)}${manifest.attempt}/plan.json`), 0, 'the plan is not read back');
    for (const prefix of [closed, closingRoot(ref), clientIdsPrefix(ref)]) assert.equal(storage.of('list', prefix), 0, `${prefix} is not listed`);
    assert.equal(storage.of('stat', announcedKey(ref)), 0, 'no marker looked for: none can predate the commit');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.manifest.sha256, createHash('sha256').update(await local.get(closed + layout.manifestName)).digest('hex'), 'the event names the stored bytes');
    assert.ok(await local.stat(announcedKey(ref)), 'the announcement is marked');
    assert.deepEqual((await local.list(layout.staging(ref))).map((o) => o.key), [], 'the staged files and the closing attempt are gone, unlisted');

    storage.requests.length = 0;
    await checker.tick();
    assert.deepEqual(checker.errors, []);
    assert.equal(storage.of('get', coverageKey(ref.type, 'test')), 0, 'its own coverage file, just saved, is not read back');
    await checker.stop();
  });

  it("a window another replica committed and did not finish is finished by the first round that meets it, though this replica's rule still waits; a waiting window is not read again every round", async () => {
    const registry = await Registry.load();
    const local = await LocalDirectoryStorage.open(await tempDir());
    await stageMessages(local, registry, [{ publisher: 'pub-a', firstSeq: 0, count: 10 }]);
    const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
    const closed = layout.closed(ref);
    const endMs = windowEndUs(ref.index, ref.lengthS) / 1000;
    // Replica A commits the manifest, then dies before its parts are put in place (every copy fails).
    class NoCopies extends ForwardingStorage {
      override copy(): Promise<void> {
        return Promise.reject(new HourglassError('HG_STORAGE_UNAVAILABLE', 'the process died here'));
      }
    }
    const a = new Checker({
      registry,
      storage: new NoCopies(local),
      options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'a', maxWaitMs: 60_000 }),
      clock: { nowUs: () => (endMs + 120_000) * 1000 },
    });
    await a.tick();
    assert.ok(await local.stat(closed + layout.manifestName), 'A committed');
    assert.equal(await local.stat(closed + layout.successName), undefined, 'A did not finish');
    await a.stop();
    // Replica B, before the max wait and without the control topic: its own rule waits.
    const storage = new ReadLog(local);
    const b = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'b', maxWaitMs: 60_000 }),
      clock: { nowUs: () => (endMs + 1000) * 1000 },
    });
    await b.tick();
    assert.deepEqual(b.errors, []);
    assert.ok(await local.stat(closed + layout.successName), 'B finished the close at its first meeting with the window');
    assert.equal((await local.list(closed)).filter((o) => o.key.endsWith('.avro')).length, 1, 'its part is in place');
    await b.stop();

    // A window that is open and waits: read when met, not in the rounds after.
    const other = { ...ref, index: ref.index + 1 };
    await stageMessages(local, registry, [{ publisher: 'pub-a', firstSeq: 10, count: 5, receiveUs: BASE_RECEIVE_US + STAGED_WINDOW_S * 1e6 }]);
    const c = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'c', maxWaitMs: 60_000 }),
      clock: { nowUs: () => (windowEndUs(other.index, other.lengthS) / 1000 + 1000) * 1000 },
    });
    storage.requests.length = 0;
    for (let round = 0; round < 3; round++) await c.tick();
    assert.deepEqual(c.errors, []);
    assert.equal(await local.stat(layout.closed(other) + layout.successName), undefined, 'it waits');
    assert.equal(storage.of('get', layout.closed(other) + layout.manifestName), 1, 'read once in three rounds');
    await c.stop();
  });
});
