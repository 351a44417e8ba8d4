// A window's commit happens once, whatever happens around it: two committers racing (one snapshot), a replay (no new snapshot), a committer killed between its Parquet files and its commit (committed once, later, with no second copy of the files), and a table another engine (pyiceberg) appended to in between (its snapshot, with a 64-bit id, stays the exact parent).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { windowClosedEvent } from '../../services/checker/window-announcer.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { commitHour, type HourCommitDeps } from '../../services/table/hour-commit.ts';
import { partitionSpec } from '../../services/table/iceberg-manifests.ts';
import { planSchema, receiveTimeFieldId } from '../../services/table/iceberg-schema.ts';
import { SUMMARY } from '../../services/table/hour-table.ts';
import { RestCatalog } from '../../services/table/rest-catalog.ts';
import { REFUSED_PREFIX, TableCommitter } from '../../services/table/table-committer.ts';
import { windowOf } from '../../services/wire/window.ts';
import { windowClosedAttributes, type WindowClosedEvent } from '../../services/wire/window-closed-event.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';
import { TABLE_PYTHON_PACKAGES } from '../helpers/iceberg-python.ts';
import { startPipeline, WINDOW_S, type PipelineKit } from '../helpers/pipeline-kit.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { readTable, startTableKit, type TableKit } from './table-kit.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

describe('one commit per window: races, replays, a crash before the commit, another engine in between', () => {
  let tables: TableKit;
  let kit: PipelineKit;
  /** Closed windows of track_played with events, as their closed-window events. */
  let events: WindowClosedEvent[];
  let manifests: ClosedManifest[];

  it('every case on one pipeline', async (t) => {
    tables = await startTableKit();
    kit = await startPipeline({ schemasDir: tables.schemasDir });
    kit.startChecker({ checkerId: 'checker-a' });
    const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 10 });
    const first = windowOf(Date.now() * 1000, WINDOW_S);
    // Three windows with events: bursts a window apart.
    for (let w = 0; w < 3; w++) {
      await Promise.all(Array.from({ length: 40 }, (_, i) => publisher.publish('track_played', trackPlayed(w * 40 + i))));
      await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    }
    await publisher.close();
    await kit.waitForClosed('track_played', [first, first + 1, first + 2, first + 3]);
    manifests = [...kit.closed.values()].filter((m) => m.type === 'track_played' && m.events > 0).sort((a, b) => a.window - b.window);
    assert.ok(manifests.length >= 3, `three windows with events (${manifests.map((m) => m.events).join(', ')})`);
    events = await Promise.all(
      manifests.map(async (m) => {
        const dir = layout.closed({ type: m.type, index: m.window, lengthS: WINDOW_S });
        const sha = createHash('sha256').update(await kit.storage.get(dir + layout.manifestName)).digest('hex');
        return windowClosedEvent(m, `${kit.storage.location}/${dir}`, sha);
      }),
    );
    try {
      await t.test('race and replay', () => raceAndReplay());
      await t.test('crash before the commit', () => crashBeforeCommit());
      await t.test('another engine in between', () => anotherEngine());
      await t.test('refused and skipped windows', () => refusedAndSkipped());
      await t.test('schema evolution against the real catalog', () => schemaEvolution());
    } finally {
      await kit.stop();
      await tables.stop();
    }
  });

  const deps = (namespace: string, committer: string, extra: Partial<HourCommitDeps> = {}): HourCommitDeps => ({
    catalog: new RestCatalog({ uri: tables.catalog.uri }),
    namespace,
    bucket: kit.storage,
    openLocation: (l) => openStorage(l),
    committer,
    ...extra,
  });

  /** Two committers racing on one window make one snapshot; the loser finds it committed; a replay adds nothing. */
  async function raceAndReplay(): Promise<void> {
    // Both build their commit on the same table state, then both send it.
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    const meet = async () => {
      if (++arrived === 2) release();
      await barrier;
    };
    const [a, b] = await Promise.all([commitHour(deps('race', 'committer-a', { beforeCommit: meet }), events[0]!), commitHour(deps('race', 'committer-b', { beforeCommit: meet }), events[0]!)]);
    assert.deepEqual([a.outcome, b.outcome].sort(), ['already-committed', 'committed'], 'one committed, the other found it');
    const winner = a.outcome === 'committed' ? a : b;
    const loser = a.outcome === 'committed' ? b : a;
    assert.equal(loser.snapshotId, winner.snapshotId, 'the loser names the winner\'s snapshot');
    const replay = await commitHour(deps('race', 'committer-c'), events[0]!);
    assert.equal(replay.outcome, 'already-committed');
    const read = await readTable(tables.catalog.uri, 'race.track_played', [[events[0]!.windowStart, events[0]!.windowEnd]]);
    assert.equal(read.snapshots.length, 1, 'one snapshot after a race and a replay');
    assert.equal(read.windows[events[0]!.windowStart]!.length, events[0]!.events, 'the window\'s rows once');
    // The data files: one per Avro part, however many committers wrote them (same bytes, same names).
    const files = await readdir(path.join(tables.dir, 'warehouse', 'race', 'track_played', 'data'), { recursive: true });
    assert.equal(files.filter((f) => f.endsWith('.parquet')).length, manifests[0]!.files.length);
  }

  /** A committer killed between its Parquet files and its commit: nothing committed; the next delivery commits the window once, reusing the same files. */
  async function crashBeforeCommit(): Promise<void> {
    const subscription = 'crash-tables';
    await kit.stack.client.topic(kit.stack.names.closedWindowsTopic).createSubscription(subscription, { enableMessageOrdering: true, ackDeadlineSeconds: 10 });
    const event = events[1]!;
    const env = {
      ...process.env,
      PUBSUB_EMULATOR_HOST: kit.stack.pubsub.host,
      HOURGLASS_PROJECT: kit.stack.pubsub.projectId,
      HOURGLASS_BUCKET: kit.storage.location,
      HOURGLASS_SCHEMAS_DIR: tables.schemasDir,
      HOURGLASS_TABLE_CATALOG_URI: tables.catalog.uri,
      HOURGLASS_TABLE_NAMESPACE: 'crash',
      HOURGLASS_TABLE_SUBSCRIPTION: subscription,
      HOURGLASS_TABLE_COMMITTER_ID: 'crashing',
      HOURGLASS_OPS_PORT: '',
    };
    const runCommitter = (fault: string) => {
      const child = spawn(process.execPath, [path.join(REPO, 'services/table/main.ts')], { env: { ...env, HOURGLASS_TABLE_FAULT: fault }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return { child, output: () => out, exited: new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code))) };
    };
    const publish = () => kit.stack.client.topic(kit.stack.names.closedWindowsTopic).publishMessage({ data: Buffer.from(JSON.stringify(event)), attributes: windowClosedAttributes(event), orderingKey: event.type });
    const crashing = runCommitter('kill-before-commit');
    try {
      await publish();
      const how = await Promise.race([crashing.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
      assert.equal(how, 'SIGKILL', `the committer killed itself before the commit (output: ${crashing.output()})`);
    } finally {
      crashing.child.kill('SIGKILL');
    }
    const dataDir = path.join(tables.dir, 'warehouse', 'crash', 'track_played', 'data');
    const parquetFiles = async () => (await readdir(dataDir, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith('.parquet')).sort();
    const written = await parquetFiles();
    assert.equal(written.length, manifests[1]!.files.length, 'its Parquet files were written');
    const before = await readTable(tables.catalog.uri, 'crash.track_played');
    assert.equal(before.exists ? before.snapshots.length : 0, 0, 'no snapshot: the commit never went out');

    // Redelivery (the unacked message, once its lease lapses) or a checker's re-announcement: either commits it once.
    const second = runCommitter('none');
    try {
      await publish();
      const deadline = Date.now() + 90_000;
      let read = await readTable(tables.catalog.uri, 'crash.track_played', [[event.windowStart, event.windowEnd]]);
      while (read.snapshots.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        read = await readTable(tables.catalog.uri, 'crash.track_played', [[event.windowStart, event.windowEnd]]);
      }
      // Both copies (the redelivered one and the re-announcement) handled: still one snapshot.
      await new Promise((r) => setTimeout(r, 12_000));
      read = await readTable(tables.catalog.uri, 'crash.track_played', [[event.windowStart, event.windowEnd]]);
      assert.equal(read.snapshots.length, 1, `committed once (output: ${second.output()})`);
      assert.equal(read.snapshots[0]!.summary[SUMMARY.window], event.windowStart);
      assert.equal(read.windows[event.windowStart]!.length, event.events);
      assert.deepEqual(await parquetFiles(), written, 'the same Parquet files, no second copy');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      await kit.stack.client.subscription(subscription).delete().catch(() => undefined);
    }
  }

  /** A snapshot another engine (pyiceberg) appended between two windows stays the exact parent, 64-bit id and all, and its rows stay. */
  async function anotherEngine(): Promise<void> {
    await commitHour(deps('mixed', 'committer-a'), events[0]!);
    const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
    // pyiceberg appends one row of its own (its own Parquet, its own snapshot id: a random 63-bit long).
    const foreignId = (
      await runPythonScript(
        python,
        String.raw`
import sys, datetime, pyarrow as pa
from pyiceberg.catalog import load_catalog
t = load_catalog("rest", type="rest", uri=sys.argv[1]).load_table("mixed.track_played")
schema = t.schema().as_arrow()
row = {f.name: None for f in schema}
row.update(event_id="foreign-1", receive_time=datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")), publisher="pyiceberg", seq=0,
           user_id="u", track_id="t", ms_played=1, reason_start="CLICK", reason_end="TRACK_DONE", platform="WEB", offline=False, country="SE")
if "shuffle" in row: row["shuffle"] = False
t.append(pa.Table.from_pylist([row], schema=schema))
print(t.current_snapshot().snapshot_id)
`,
        [tables.catalog.uri, events[0]!.windowStart],
      )
    ).trim();
    // Manifests merged past 2 (Iceberg's default is 100): pyiceberg's manifest (ids and sequence numbers inherited) and ours.
    const outcome = await commitHour(deps('mixed', 'committer-a', { mergeManifestsAt: 2 }), events[2]!);
    assert.equal(outcome.outcome, 'committed');
    const windows = [0, 1, 2].map((i) => [events[i]!.windowStart, events[i]!.windowEnd] as const);
    let read = await readTable(tables.catalog.uri, 'mixed.track_played', windows);
    assert.equal(read.snapshots.length, 3);
    assert.equal(read.snapshots[1]!.id, foreignId);
    assert.equal(read.snapshots[2]!.parent, foreignId, 'the parent is exactly the foreign snapshot');
    assert.deepEqual(read.manifests.map((m) => [m.added, m.existing]), [[manifests[2]!.files.length, 0], [0, manifests[0]!.files.length + 1]], 'this window\'s manifest, and the two before merged into one of EXISTING files');
    // The merged entries keep who added each file and when (what they inherited, now written out).
    const [first, foreign] = [read.snapshots[0]!, read.snapshots[1]!];
    const want = [...Array.from({ length: manifests[0]!.files.length }, () => ({ status: 'EXISTING', snapshot: first.id, sequence: first.sequence, fileSequence: first.sequence })), { status: 'EXISTING', snapshot: foreign.id, sequence: foreign.sequence, fileSequence: foreign.sequence }];
    const bySnapshot = (a: { snapshot: string }, b: { snapshot: string }) => a.snapshot.localeCompare(b.snapshot);
    assert.deepEqual([...read.manifests[1]!.entries].sort(bySnapshot), want.sort(bySnapshot));
    assert.ok(read.manifests[0]!.entries.every((e) => e.status === 'ADDED' && e.snapshot === read.snapshots[2]!.id), 'this window\'s files ADDED by its snapshot');
    // Once more: the merged manifest (explicit ids) merged again with the next window's.
    assert.equal((await commitHour(deps('mixed', 'committer-a', { mergeManifestsAt: 2 }), events[1]!)).outcome, 'committed');
    read = await readTable(tables.catalog.uri, 'mixed.track_played', windows);
    assert.deepEqual(read.manifests.map((m) => [m.added, m.existing]), [[manifests[1]!.files.length, 0], [0, manifests[0]!.files.length + 1 + manifests[2]!.files.length]]);
    assert.equal(read.windows[events[1]!.windowStart]!.length, events[1]!.events);
    assert.equal(read.windows[events[0]!.windowStart]!.length, events[0]!.events + 1, 'the first window\'s rows and the foreign row');
    assert.ok(read.windows[events[0]!.windowStart]!.includes('foreign-1'));
    assert.equal(read.windows[events[2]!.windowStart]!.length, events[2]!.events);
  }

  /**
   * What cannot be committed is not dropped: an event whose manifest hash does not match, and a message that is not a
   * closed-window event, go to tables/refused/ with the reason (and the event, to publish again); a type that does not
   * opt in is acked and skipped. Publishing the refused event again, mended, commits it.
   */
  async function refusedAndSkipped(): Promise<void> {
    const skipped: string[] = [];
    const committed: string[] = [];
    // A subscription of its own, from now on (the checker keeps announcing the windows it closes: those commit or skip as usual).
    const subscription = 'refusal-tables';
    await kit.stack.client.topic(kit.stack.names.closedWindowsTopic).createSubscription(subscription, { enableMessageOrdering: true });
    const committer = new TableCommitter({
      pubsub: kit.stack.client,
      subscription,
      registry: kit.registry,
      windowsInParallel: 2,
      deps: deps('refusals', 'committer-r'),
      onSkipped: (e) => skipped.push(e.dedupKey),
      onCommitted: (r) => committed.push(r.event.dedupKey),
    });
    committer.start();
    const topic = kit.stack.client.topic(kit.stack.names.closedWindowsTopic, { messageOrdering: true });
    try {
      const good = events[2]!;
      const tampered = { ...good, manifest: { ...good.manifest, sha256: '0'.repeat(64) } };
      const other = { ...good, type: 'search_performed', dedupKey: `search_performed/${good.windowStart}` };
      await topic.publishMessage({ data: Buffer.from(JSON.stringify(tampered)), orderingKey: good.type });
      await topic.publishMessage({ data: Buffer.from('{"not":"an event"'), orderingKey: 'junk' });
      await topic.publishMessage({ data: Buffer.from(JSON.stringify(other)), orderingKey: other.type });
      const refusedKey = `${REFUSED_PREFIX}${good.type}/${good.windowStart.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`;
      const deadline = Date.now() + 30_000;
      const unparseable = async () => (await kit.storage.list(`${REFUSED_PREFIX}_unparseable/`)).map((o) => o.key);
      while ((!(await kit.storage.stat(refusedKey)) || (await unparseable()).length === 0 || !skipped.includes(other.dedupKey)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const refused = JSON.parse((await kit.storage.get(refusedKey)).toString('utf8')) as { reason: string; event: typeof good };
      assert.match(refused.reason, /has SHA-256 [0-9a-f]{64}, the event says 0{64}/);
      assert.deepEqual(refused.event, tampered, 'the refused event is kept whole');
      const junk = (await unparseable())[0];
      assert.ok(junk, 'the unparseable message is kept');
      const kept = JSON.parse((await kit.storage.get(junk)).toString('utf8')) as { reason: string; dataBase64: string };
      assert.match(kept.reason, /not JSON/);
      assert.equal(Buffer.from(kept.dataBase64, 'base64').toString(), '{"not":"an event"');
      assert.ok(skipped.includes(other.dedupKey), 'a type without a table is skipped');
      const before = await readTable(tables.catalog.uri, 'refusals.track_played');
      assert.equal((before.exists ? before.snapshots : []).filter((x) => x.summary[SUMMARY.window] === good.windowStart).length, 0, 'nothing committed for the refused window');
      // Redrive: the refused event, mended, published again.
      await topic.publishMessage({ data: Buffer.from(JSON.stringify({ ...refused.event, manifest: good.manifest })), orderingKey: good.type });
      while (!committed.includes(good.dedupKey) && Date.now() < deadline + 30_000) await new Promise((r) => setTimeout(r, 200));
      const read = await readTable(tables.catalog.uri, 'refusals.track_played', [[good.windowStart, good.windowEnd]]);
      assert.equal(read.snapshots.filter((x) => x.summary[SUMMARY.window] === good.windowStart).length, 1, 'the redriven window committed once');
      assert.equal(read.windows[good.windowStart]!.length, good.events);
    } finally {
      await committer.stop();
      await topic.flush();
      await kit.stack.client.subscription(subscription).delete().catch(() => undefined);
    }
  }

  /**
   * A table made by an older schema (ms_played an int, no shuffle, a required field the hour no longer has): the hour's
   * commit first commits the evolved schema — ms_played widened to long, shuffle added optional, the dropped field made
   * optional — which Apache Iceberg's catalog takes, and pyiceberg reads the hour with it.
   */
  async function schemaEvolution(): Promise<void> {
    const hour = JSON.parse((await kit.storage.get(layout.closed({ type: 'track_played', index: manifests[0]!.window, lengthS: WINDOW_S }) + layout.manifestName)).toString('utf8')) as ClosedManifest;
    const fields = (hour.schema as { fields: Array<{ name: string; type: unknown }> }).fields;
    const older = { type: 'record', name: 'TrackPlayed', fields: [...fields.filter((f) => f.name !== 'shuffle').map((f) => (f.name === 'ms_played' ? { ...f, type: 'int' } : f)), { name: 'legacy', type: 'string' }] };
    const plan = planSchema(JSON.stringify(older), undefined, 0);
    const catalog = new RestCatalog({ uri: tables.catalog.uri });
    await catalog.ensureNamespace('evolve');
    await catalog.createTable('evolve', { name: 'track_played', schema: plan.schema, 'partition-spec': partitionSpec(receiveTimeFieldId(plan.schema)), properties: { 'format-version': '2' } });
    assert.equal((await commitHour(deps('evolve', 'committer-e'), events[0]!)).outcome, 'committed');
    const read = await readTable(tables.catalog.uri, 'evolve.track_played', [[events[0]!.windowStart, events[0]!.windowEnd]]);
    const byName = new Map(read.schema.map((f) => [f.name, f]));
    assert.deepEqual([byName.get('ms_played')?.type, byName.get('ms_played')?.required], ['long', true], 'ms_played widened');
    assert.deepEqual([byName.get('legacy')?.required, byName.get('shuffle')?.required], [false, false], 'the dropped field optional, the new one optional');
    assert.equal(byName.get('ms_played')?.id, plan.schema.fields.find((f) => f.name === 'ms_played')!.id, 'ids kept');
    assert.equal(read.windows[events[0]!.windowStart]!.length, events[0]!.events);
  }
});
