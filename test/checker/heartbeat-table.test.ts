// The heartbeat table shared between checker replicas: how far the control topic counts as read.
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CoverageStore } from '../../services/checker/coverage-store.ts';
import { HeartbeatTable, heartbeatSnapshotKey } from '../../services/checker/heartbeat-table.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const T = 1_800_000_000_000; // a round's time (ms)

describe('heartbeat table: control topic read-to mark', () => {
  it('is the least mark over the replicas saving now: a replica that learned of a later mark must save before it counts', async () => {
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-hbt-'));
    const a = new HeartbeatTable();
    const b = new HeartbeatTable();
    a.noteControl(T + 900); // a received a probe published at T+900
    b.noteControl(T + 100); // b last received something published at T+100
    await a.save(storage, 'a', T + 1000);
    await b.save(storage, 'b', T + 1000);
    const view = new HeartbeatTable();
    await view.loadAll(storage);
    assert.equal(view.controlReadToMs(T + 1000), T + 100, 'b may hold heartbeats published up to T+900 that it has not saved');
    // b reads a's snapshot, then saves: everything b was handed before it learned of T+900 is in that save.
    await b.loadAll(storage);
    await b.save(storage, 'b', T + 1500);
    await view.loadAll(storage);
    assert.equal(view.controlReadToMs(T + 1500), T + 900);
  });

  it('ignores a replica that stopped cleanly or has not saved for a few seconds, and has no mark while nobody reads the topic', async () => {
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-hbt-'));
    const view = new HeartbeatTable();
    await view.loadAll(storage);
    assert.equal(view.controlReadToMs(T), undefined, 'no replica');
    const live = new HeartbeatTable();
    live.noteControl(T + 2000);
    await live.save(storage, 'live', T + 2000);
    const stopped = new HeartbeatTable();
    stopped.noteControl(T);
    await stopped.save(storage, 'stopped', T + 2000, true);
    const dead = new HeartbeatTable();
    dead.noteControl(T - 9000);
    await dead.save(storage, 'dead', T - 8000);
    await view.loadAll(storage);
    assert.equal(view.controlReadToMs(T + 2000), T + 2000);
    // A replica that saves but has received nothing yet holds the mark back (it may hold a heartbeat it has not saved).
    await new HeartbeatTable().save(storage, 'new', T + 2000);
    await view.loadAll(storage);
    assert.equal(view.controlReadToMs(T + 2000), undefined);
  });

  it('still reads the heartbeats of a snapshot saved in the older format (a bare array)', async () => {
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-hbt-'));
    await storage.put('checker/heartbeats/old.json', JSON.stringify([{ id: 'p', startedUs: 1, heartbeat: { timeUs: 5, final: false, types: {} }, lastSeenMs: T }]));
    const view = new HeartbeatTable();
    await view.loadAll(storage);
    assert.equal(view.get('p')?.heartbeat?.timeUs, 5);
    assert.equal(view.controlReadToMs(T), undefined, 'an old snapshot says nothing of the control topic');
  });

  it('a round reads a snapshot, or a coverage file, only when it was written since it was last read', async () => {
    const local = await LocalDirectoryStorage.open(await tempDir('hg-hbt-'));
    const reads: string[] = [];
    const storage = overrideStorage(local, { get: async (key) => (reads.push(key), local.get(key)) });
    const a = new HeartbeatTable();
    a.observe({ publisher: 'p', origin: 'test', windowS: 3600, startedUs: 0, timeUs: T * 1000, final: false, types: { t: { nextSeq: 5, ackedBelow: 5 } } }, T);
    await a.save(storage, 'a', T);
    await new HeartbeatTable().save(storage, 'b', T);
    const coverage = new CoverageStore();
    coverage.add('t', 'p', 0, 5, 1);
    await coverage.save(storage, 't', 'a', () => true);
    const view = new HeartbeatTable();
    const viewCoverage = new CoverageStore();
    const round = async () => {
      reads.length = 0;
      await view.loadAll(storage);
      await viewCoverage.load(storage, 't');
      return [...reads].sort();
    };
    assert.deepEqual(await round(), ['checker/coverage/t/a.json', heartbeatSnapshotKey('a'), heartbeatSnapshotKey('b')]);
    assert.deepEqual(await round(), [], 'nothing written since: nothing read');
    await a.save(storage, 'a', T + 1000);
    assert.deepEqual(await round(), [heartbeatSnapshotKey('a')]);
    assert.deepEqual(view.liveReplicas(T + 1000), ['a', 'b']);
    assert.equal(view.get('p')?.heartbeat?.types.t?.nextSeq, 5);
    assert.deepEqual(viewCoverage.runs('t').get('p')?.runs.map((r) => [r.from, r.to]), [[0, 5]]);
  });

  it('a replica does not read back its own snapshot or coverage once saved, yet counts itself live and read to its own mark', async () => {
    const local = await LocalDirectoryStorage.open(await tempDir('hg-hbt-'));
    const reads: string[] = [];
    const storage = overrideStorage(local, { get: async (key) => (reads.push(key), local.get(key)) });
    const a = new HeartbeatTable();
    a.noteControl(T + 400);
    a.observe({ publisher: 'p', origin: 'test', windowS: 3600, startedUs: 0, timeUs: T * 1000, final: false, types: { t: { nextSeq: 5, ackedBelow: 5 } } }, T);
    await a.save(storage, 'a', T + 500);
    const coverage = new CoverageStore();
    coverage.add('t', 'p', 0, 5, 1);
    await coverage.save(storage, 't', 'a', () => true);
    await a.loadAll(storage);
    await coverage.load(storage, 't');
    assert.deepEqual(reads, [], 'what it saved is what it holds');
    assert.deepEqual(a.liveReplicas(T + 1000), ['a']);
    assert.equal(a.controlReadToMs(T + 1000), T + 400, 'its own mark, as saved');
    // A new process under the same id (a restart) has not saved yet: it reads both.
    const restarted = new HeartbeatTable();
    const restartedCoverage = new CoverageStore();
    await restarted.loadAll(storage);
    await restartedCoverage.load(storage, 't');
    assert.deepEqual(reads.sort(), ['checker/coverage/t/a.json', heartbeatSnapshotKey('a')]);
    assert.equal(restarted.get('p')?.heartbeat?.types.t?.nextSeq, 5);
  });

  it("removes the snapshots of replicas gone for good (unwritten for the publisher retention), not a recent one, nor one written again since it was merged", async () => {
    const root = await tempDir('hg-hbt-');
    const storage = await LocalDirectoryStorage.open(root);
    const DAY_MS = 24 * 3600 * 1000;
    const saveAs = async (id: string, ageMs: number) => {
      await new HeartbeatTable().save(storage, id, T, true);
      const when = new Date(Date.now() - ageMs);
      await utimes(path.join(root, heartbeatSnapshotKey(id)), when, when);
    };
    await saveAs('gone', 3 * DAY_MS);
    await saveAs('rewritten', 3 * DAY_MS);
    await saveAs('recent', 1000);
    await saveAs('me', 3 * DAY_MS);
    const table = new HeartbeatTable();
    await table.loadAll(storage);
    await saveAs('rewritten', 3 * DAY_MS); // written again after the merge: a new version, kept
    assert.deepEqual(await table.sweepGone(storage, 'me', { nowMs: Date.now(), olderThanMs: 2 * DAY_MS }), [heartbeatSnapshotKey('gone')]);
    assert.deepEqual((await storage.list('checker/heartbeats/')).map((o) => o.key).sort(), ['me', 'recent', 'rewritten'].map(heartbeatSnapshotKey).sort());
  });
});
