// Seqs a worker dead-lettered are accounted for by the proof (issue 12 §0b): a message with refused records costs only those
// records; the window closes complete at once, its manifest names the dead-lettered seqs and their dead letter, and a
// dead-lettered event put back later (a redrive) still lands, in late/. Staged by a real Worker; closed by a real Checker;
// on a local directory and on fake-gcs-server, both behind the write-rate guard (no object rewritten within a second).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { HeartbeatTable } from '../../services/checker/heartbeat-table.ts';
import { Registry } from '../../services/registry/registry.ts';
import { DEAD_LETTER_NOTE_SUFFIX } from '../../services/storage/dead-letter-note.ts';
import { layout } from '../../services/storage/layout.ts';
import { startFakeGcsServer, type FakeGcsServer } from '../../services/local-stack/fake-gcs-server.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import { messageWithRefusedRecords } from '../fixtures/refused-records.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US, buildBatch, FakeSource, fakeInbound } from '../fixtures/worker-messages.ts';
import { readWithFastavro } from '../helpers/pipeline-kit.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const S = 1_000_000;
const TYPE = 'track_played';
const WINDOW = windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S);
const REF = { type: TYPE, index: WINDOW, lengthS: STAGED_WINDOW_S };
const WINDOW_END_MS = windowEndUs(WINDOW, STAGED_WINDOW_S) / 1000;
const REFUSED = [7, 8, 13]; // of the message holding seqs 40..59
const DEAD_SEQS = REFUSED.map((i) => 40 + i);

type Backend = 'local' | 'gcs';
let gcs: FakeGcsServer | undefined;
const GCS_BUCKET = 'hg-dead-letters';

/** A bucket, a clock the test moves, a checker that waits for every acknowledged seq (max wait: an hour), and pub-test's heartbeat: 60 seqs, all acknowledged. */
async function world(backend: Backend) {
  const registry = await Registry.load();
  const local = backend === 'gcs'
    ? await openStorage(`gs://${GCS_BUCKET}/${path.basename(await tempDir())}`, { gcsEndpoint: gcs!.endpoint })
    : await openStorage(await tempDir());
  let nowMs = WINDOW_END_MS + 2000;
  let lastSnapshotMs = 0;
  const checker = new Checker({
    registry,
    storage: local,
    clock: { nowUs: () => nowMs * 1000 },
    // Unshared: the "control-reader" snapshot of round() stands for the control topic's reader, not a replica closing a share.
    options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'checker-a', livenessTimeoutMs: 3_600_000, maxWaitMs: 3_600_000, shareTypes: false }),
  });
  return {
    registry,
    local,
    checker,
    /** Stages the message with refused records (seqs 40..59) through a real Worker. */
    async stageRefused(storage: Storage = local): Promise<void> {
      const made = messageWithRefusedRecords(registry, { count: 20, firstSeq: 40, receiveUs: BASE_RECEIVE_US + 20 * S, windowS: STAGED_WINDOW_S }, REFUSED);
      await this.deliver(made.data, made.attributes, storage);
    },
    /** Delivers one message to a real Worker, which must settle it with an ack. */
    async deliver(data: Buffer, attributes: Record<string, string>, storage: Storage = local): Promise<void> {
      const source = new FakeSource();
      const worker = new Worker(resolveWorkerOptions({}, { workerId: 'w-salvage', maxFileAgeMs: 3_600_000 }), { registry, storage, source, clock: { nowUs: () => BASE_RECEIVE_US + 30 * S } });
      worker.start();
      const m = fakeInbound(data, attributes, TYPE);
      source.deliver(m);
      await worker.stop();
      assert.equal(m.settled, 'ack');
    },
    async round(): Promise<void> {
      nowMs += 2000;
      const table = new HeartbeatTable();
      table.noteControl(WINDOW_END_MS + 5000);
      table.observe({ publisher: 'pub-test', timeUs: (WINDOW_END_MS + 1000) * 1000, startedUs: BASE_RECEIVE_US - S, final: false, windowS: STAGED_WINDOW_S, types: { [TYPE]: { nextSeq: 60, ackedBelow: 60 } }, origin: 'test' }, WINDOW_END_MS + 1000);
      // Like a replica's own pacer: one write of the snapshot's name a second at most (the guard refuses faster).
      await new Promise((r) => setTimeout(r, Math.max(0, lastSnapshotMs + 1100 - Date.now())));
      await table.save(local, 'control-reader', nowMs);
      lastSnapshotMs = Date.now();
      await checker.tick();
      assert.deepEqual(checker.errors, []);
    },
    async manifest(): Promise<ClosedManifest | undefined> {
      try {
        return JSON.parse((await local.get(layout.closed(REF) + layout.manifestName)).toString('utf8')) as ClosedManifest;
      } catch {
        return undefined;
      }
    },
    async seqsIn(prefix: string): Promise<number[]> {
      // Copies of the part files, for fastavro (the same bytes on either backend).
      const dir = await tempDir();
      const files: string[] = [];
      for (const o of (await local.list(prefix)).filter((x) => x.key.endsWith('.avro'))) {
        files.push(path.join(dir, `${files.length}.avro`));
        await writeFile(files[files.length - 1]!, await local.get(o.key));
      }
      return (await readWithFastavro(files)).map((r) => Number(r.seq)).sort((a, b) => a - b);
    },
  };
}

for (const backend of ['local', 'gcs'] as const) describe(`dead-lettered seqs in the proof (${backend})`, () => {
  if (backend === 'gcs') {
    before(async () => {
      gcs = await startFakeGcsServer();
      await gcs.createBucket(GCS_BUCKET);
    });
    after(async () => gcs?.stop());
  }

  it('a message with refused records: the window closes complete at once, with every other event, and names the dead-lettered seqs and their dead letter', async () => {
    const w = await world(backend);
    await stageMessages(w.local, w.registry, [{ publisher: 'pub-test', firstSeq: 0, count: 40, receiveUs: BASE_RECEIVE_US + 10 * S }]);
    await w.stageRefused();
    await w.round();
    const m = await w.manifest();
    assert.ok(m, 'closed in the first round after the end, not after the max wait');
    assert.equal(m.status, 'complete');
    assert.equal(m.lostEvents, 0);
    assert.equal(m.events, 57);
    assert.equal(m.deadLetteredEvents, 3);
    const [letter] = await w.local.list('deadletter/');
    assert.deepEqual(m.deadLettered, [{ publisher: 'pub-test', ranges: [[47, 49], [53, 54]], deadLetter: letter!.key, reason: 'bad_records' }]);
    const all = [...Array(60).keys()];
    assert.deepEqual(await w.seqsIn(layout.closed(REF)), all.filter((s) => !DEAD_SEQS.includes(s)), 'fastavro reads every kept event once');
    assert.deepEqual(await w.local.list('staging/'), [], 'the note goes with the staging');
  });

  it('without the note the same window waits for the dead-lettered seqs as missing (what the note fixes)', async () => {
    const w = await world(backend);
    await stageMessages(w.local, w.registry, [{ publisher: 'pub-test', firstSeq: 0, count: 40, receiveUs: BASE_RECEIVE_US + 10 * S }]);
    await w.stageRefused();
    for (const o of await w.local.list('staging/')) if (o.key.endsWith(DEAD_LETTER_NOTE_SUFFIX)) await w.local.delete(o.key);
    await w.round();
    assert.equal(await w.manifest(), undefined, 'still open: seqs below the acknowledged mark are missing');
  });

  it('a dead letter from a publisher that never sent a heartbeat (a misconfigured client) does not hold the window', async () => {
    const w = await world(backend);
    await stageMessages(w.local, w.registry, [{ publisher: 'pub-test', firstSeq: 0, count: 60, receiveUs: BASE_RECEIVE_US + 10 * S }]);
    const rogue = buildBatch(w.registry, { publisher: 'rogue', firstSeq: 500, count: 4, receiveUs: BASE_RECEIVE_US + 15 * S, windowS: STAGED_WINDOW_S });
    await w.deliver(rogue.data, { ...rogue.attributes, version: '9' });
    await w.round();
    const m = await w.manifest();
    assert.equal(m?.status, 'complete', 'closed in the first round, not after the liveness timeout (an hour here)');
    assert.deepEqual(m.deadLettered?.map((d) => [d.publisher, d.ranges, d.reason]), [['rogue', [[500, 504]], 'unknown_version']]);
    assert.deepEqual(m.publishers.map((p) => p.publisher), ['pub-test']);
  });

  it('a dead-lettered event put back after the close lands in late/ (accounted for is not delivered); a note that comes after the close is kept as coverage and removed', async () => {
    const w = await world(backend);
    await stageMessages(w.local, w.registry, [{ publisher: 'pub-test', firstSeq: 0, count: 40, receiveUs: BASE_RECEIVE_US + 10 * S }]);
    await w.stageRefused();
    await w.round();
    assert.equal((await w.manifest())?.status, 'complete');
    // Redriven once its cause is fixed: the refused seqs come back in good shape (and one already delivered with them).
    await stageMessages(w.local, w.registry, [{ publisher: 'pub-test', firstSeq: 46, count: 3, receiveUs: BASE_RECEIVE_US + 20 * S + 6 }]);
    // The same message delivered again to another worker after the close: a second note, late.
    await w.stageRefused();
    await w.round();
    assert.deepEqual(await w.seqsIn(layout.late(REF)), [47, 48], 'the redriven events land; the copy of seq 46 is dropped as a duplicate');
    assert.deepEqual(await w.local.list('staging/'), [], 'the late note and the late staging are gone');
    const coverage = JSON.parse((await w.local.get('checker/coverage/track_played/checker-a.json')).toString('utf8')) as { deadLettered: Record<string, Array<{ from: number; to: number }>> };
    assert.deepEqual(coverage.deadLettered['pub-test']!.map((r) => [r.from, r.to]), [[47, 49], [53, 54]]);
  });
});
