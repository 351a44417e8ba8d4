// The heartbeat table shared between checker replicas: how far the control topic counts as read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeartbeatTable } from '../../services/checker/heartbeat-table.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
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
});
