// Closed windows into Iceberg tables, end to end, on a local directory and on fake-gcs-server: a real pipeline (emulator, SDK, worker, checker) announces its closes, the table committer commits each window of the type that opts in to Apache Iceberg's own REST catalog, and pyiceberg (another process, another implementation) reads every window back: its rows' event ids are exactly the Avro hour's (read by fastavro), its snapshot summary is its proof, an incomplete window says so, and no window is committed twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { topicSink } from '../../services/checker/window-announcer.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { STAGING_MANIFEST_SUFFIX, parseStagingManifest } from '../../services/storage/staging-manifest.ts';
import { SUMMARY } from '../../services/table/hour-table.ts';
import { RestCatalog } from '../../services/table/rest-catalog.ts';
import { TableCommitter, type CommitReport } from '../../services/table/table-committer.ts';
import { windowOf } from '../../services/wire/window.ts';
import { readWithFastavro, startPipeline, WINDOW_S, type PipelineBackend } from '../helpers/pipeline-kit.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { readTable, startTableKit } from './table-kit.ts';

for (const backend of ['local', 'gcs'] as const satisfies readonly PipelineBackend[]) describe(`Iceberg tables of closed windows (${backend})`, () => {
  it('each closed window of an opted-in type is one snapshot carrying its proof; pyiceberg reads exactly the Avro hour\'s events, complete, incomplete and empty windows alike', async () => {
    const tables = await startTableKit();
    const kit = await startPipeline({ backend, schemasDir: tables.schemasDir });
    const reports: CommitReport[] = [];
    const errors: string[] = [];
    const committer = new TableCommitter({
      pubsub: kit.stack.client,
      subscription: kit.stack.names.tablesSubscription,
      registry: kit.registry,
      windowsInParallel: 4,
      deps: { catalog: new RestCatalog({ uri: tables.catalog.uri }), namespace: 'events', bucket: kit.storage, openLocation: (l) => openStorage(l), committer: 'committer-test', rowGroupRows: 7 },
      onCommitted: (r) => reports.push(r),
      onError: (e, ev) => errors.push(`${ev?.dedupKey}: ${e.message}`),
      onRefused: (key, reason) => errors.push(`refused ${key}: ${reason}`),
    });
    committer.start();
    const sink = topicSink(kit.stack.client, kit.stack.names.closedWindowsTopic);
    try {
      const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 20 });
      for (let i = 0; i < 200; i++) {
        void publisher.publish('track_played', trackPlayed(i));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 500));
      }
      await publisher.flush();
      // A gap: one staged file removed before any checker runs, with others of its window on both sides, so its window closes incomplete.
      const until = Date.now() + 15_000;
      let parsed: Array<{ key: string; m: ReturnType<typeof parseStagingManifest> }> = [];
      for (;;) {
        await kit.worker.flush();
        const manifests = (await kit.storage.list('staging/track_played/')).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX));
        parsed = await Promise.all(manifests.map(async (o) => ({ key: o.key, m: parseStagingManifest(o.key, await kit.storage.get(o.key)) })));
        if (parsed.reduce((a, p) => a + p.m.events, 0) === 200) break;
        assert.ok(Date.now() < until, 'the worker staged all 200 events within 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const span = (m: (typeof parsed)[number]['m']) => [Math.min(...m.messages.map((x) => x.firstSeq)), Math.max(...m.messages.map((x) => x.firstSeq + x.count))] as const;
      const victim = parsed.find((p) => {
        const [from, to] = span(p.m);
        const others = parsed.filter((q) => q !== p && q.m.window === p.m.window).map((q) => span(q.m));
        return others.some(([, end]) => end <= from) && others.some(([start]) => start >= to);
      });
      assert.ok(victim, 'a staged file with others of its window on both sides');
      await kit.storage.delete(victim.key);
      await kit.storage.delete(victim.m.file);
      kit.startChecker({ checkerId: 'checker-a', maxWaitMs: 4000 }, undefined, undefined, { announce: sink.send });
      await kit.waitForClosed('track_played', [victim.m.window]);
      const from = windowOf(Date.now() * 1000, WINDOW_S);
      await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish('track_played', trackPlayed(200 + i))));
      await publisher.close();
      await kit.waitForClosed('track_played', [from, from + 1, from + 2]);
      await kit.waitForClosed('search_performed', [from + 2]);

      // Every closed window of track_played so far is committed (the checker announces each once its _SUCCESS exists).
      const closed = [...kit.closed.values()].filter((m) => m.type === 'track_played');
      const deadline = Date.now() + 60_000;
      const committed = () => new Set(reports.map((r) => r.event.windowStart));
      while (closed.some((m) => !committed().has(m.windowStart)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(closed.filter((m) => !committed().has(m.windowStart)).map((m) => m.windowStart), [], `every closed window committed (errors: ${errors.join('; ')})`);

      const read = await readTable(tables.catalog.uri, 'events.track_played', closed.map((m) => [m.windowStart, m.windowEnd] as const));
      assert.ok(read.exists);
      // The table: hour(receive_time) partitions, field ids from the Avro schema, format v2.
      assert.deepEqual(read.partitionSpec.map((f) => [f.name, f.transform]), [['receive_time_hour', 'hour']]);
      assert.equal(read.partitionSpec[0]!.source_id, read.schema.find((f) => f.name === 'receive_time')!.id);
      assert.deepEqual(read.schema.slice(0, 4).map((f) => [f.id, f.name, f.required]), [[1, 'event_id', true], [2, 'receive_time', true], [3, 'publisher', true], [4, 'seq', true]]);
      // One snapshot per window, never two, each a child of the one before.
      const byWindow = new Map<string, (typeof read.snapshots)[number][]>();
      for (const s of read.snapshots) byWindow.set(s.summary[SUMMARY.window]!, [...(byWindow.get(s.summary[SUMMARY.window]!) ?? []), s]);
      for (const [w, list] of byWindow) assert.equal(list.length, 1, `window ${w} committed once, not ${list.length} times`);
      assert.equal(read.snapshots.length, closed.length, 'a snapshot for each closed window and none for another');
      for (const [i, s] of read.snapshots.entries()) assert.equal(s.parent, i === 0 ? null : read.snapshots[i - 1]!.id, 'snapshots form one line');

      for (const m of closed) await checkWindow(m, read, kit);
      const statuses = closed.map((m) => `${m.status}/${m.events > 0 ? 'events' : 'empty'}`);
      assert.ok(statuses.includes('incomplete/events'), `an incomplete window (${statuses.join(', ')})`);
      assert.ok(statuses.includes('complete/events'), 'a complete window with events');
      assert.ok(statuses.includes('complete/empty'), 'an empty window');
      assert.ok(closed.find((m) => m.window === victim.m.window && m.status === 'incomplete' && m.lostEvents === victim.m.events), 'the gap window closed incomplete');
      // closed-through: the end of the newest window up to which every window is committed.
      const latest = closed.map((m) => Date.parse(m.windowEnd)).sort((a, b) => a - b);
      assert.ok(Date.parse(read.properties['hourglass.closed-through']!) >= latest[0]!, `closed-through ${read.properties['hourglass.closed-through']}`);
      // A type that does not opt in has no table.
      assert.equal((await readTable(tables.catalog.uri, 'events.search_performed')).exists, false, 'no table for search_performed');
      assert.deepEqual(errors, []);
    } finally {
      await committer.stop();
      await sink.close();
      await kit.stop();
      await tables.stop();
    }
  });
});

/** One window: its snapshot's summary is its proof, and its rows (pyiceberg) are exactly the Avro parts' records (fastavro). */
async function checkWindow(m: ClosedManifest, read: Awaited<ReturnType<typeof readTable>>, kit: Awaited<ReturnType<typeof startPipeline>>): Promise<void> {
  const s = read.snapshots.find((x) => x.summary[SUMMARY.window] === m.windowStart);
  assert.ok(s, `a snapshot for ${m.windowStart}`);
  assert.equal(s.summary.operation, 'append');
  assert.equal(s.summary[SUMMARY.status], m.status, `status of ${m.windowStart}`);
  assert.equal(s.summary[SUMMARY.records], String(m.events));
  assert.equal(s.summary[SUMMARY.lost], String(m.lostEvents));
  assert.equal(s.summary[SUMMARY.abandoned], String(m.abandonedEvents));
  assert.equal(s.summary['added-records'], String(m.events), 'the rows this snapshot added');
  const ref = { type: m.type, index: m.window, lengthS: WINDOW_S };
  const dir = layout.closed(ref);
  const manifestBytes = await kit.storage.get(dir + layout.manifestName);
  const { createHash } = await import('node:crypto');
  assert.equal(s.summary[SUMMARY.manifestSha256], createHash('sha256').update(manifestBytes).digest('hex'), 'the SHA-256 of the stored manifest');
  const avro = await readWithFastavro(await kit.localFiles(m.files.map((f) => dir + f.name)));
  const fromAvro = avro.map((r) => r.event_id).sort();
  assert.equal(fromAvro.length, m.events, `fastavro reads ${m.events} records in ${m.windowStart}`);
  assert.deepEqual(read.windows[m.windowStart], fromAvro, `the event ids of ${m.windowStart} in the table equal the Avro hour's`);
}
