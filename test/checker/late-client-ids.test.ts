// Late events are de-duplicated by client event id, against the closed window and against each other, across crashes and
// racing checkers (issue 12 §3). Staged by a real Worker; closed and moved by real Checkers driven by a test clock.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions, type CheckerOptions } from '../../services/checker/checker-options.ts';
import { clientIdsPrefix } from '../../services/checker/client-id-chunks.ts';
import { HeartbeatTable } from '../../services/checker/heartbeat-table.ts';
import { LateClientIds } from '../../services/checker/late-client-ids.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US, type BatchSpec } from '../fixtures/worker-messages.ts';
import { readWithFastavro, type ReadRecord } from '../helpers/pipeline-kit.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const S = 1_000_000;
const TYPE = 'track_played';
const WINDOW = windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S);
const REF = { type: TYPE, index: WINDOW, lengthS: STAGED_WINDOW_S };
const WINDOW_END_MS = windowEndUs(WINDOW, STAGED_WINDOW_S) / 1000;

/** `count` events from `publisher`, received from `atS` seconds into the window, with client ids for some seqs. */
function batch(publisher: string, count: number, atS: number, ids: Record<number, string>): BatchSpec {
  return { publisher, count, receiveUs: BASE_RECEIVE_US + atS * S, eventId: (seq) => ids[seq] };
}

/** A bucket, a clock the test moves, and checkers on that bucket which see the control topic as read (so windows close by proof). */
async function world() {
  const registry = await Registry.load();
  const local = await LocalDirectoryStorage.open(await tempDir());
  let nowMs = WINDOW_END_MS + 2000;
  const clock = { nowUs: () => nowMs * 1000 };
  const checkers: Checker[] = [];
  const w = {
    registry,
    local,
    stage: (specs: BatchSpec[]) => stageMessages(local, registry, specs),
    checker(id: string, storage: Storage = local, overrides: Partial<CheckerOptions> = {}): Checker {
      const c = new Checker({
        registry,
        storage,
        clock,
        // Unshared: the "control-reader" snapshot below stands for the control topic's reader, not a replica closing a share,
        // and two checkers here race on the same windows on purpose.
        options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: id, livenessTimeoutMs: 1000, maxWaitMs: 3_600_000, shareTypes: false, ...overrides }),
      });
      checkers.push(c);
      return c;
    },
    /** Moves the clock on and runs one round of each checker at once. */
    async round(...running: Checker[]): Promise<void> {
      nowMs += 2000;
      // A replica's snapshot says the control topic was read well past the window's end.
      const table = new HeartbeatTable();
      table.noteControl(WINDOW_END_MS + 5000);
      await table.save(local, 'control-reader', nowMs);
      await Promise.all(running.map((c) => c.tick()));
    },
    async closed(): Promise<ReadRecord[]> {
      const dir = layout.closed(REF);
      const files = (await local.list(dir)).filter((o) => o.key.endsWith('.avro')).map((o) => path.join(local.root, o.key));
      return readWithFastavro(files);
    },
    async late(): Promise<{ records: ReadRecord[]; manifests: Array<{ events: number; duplicatesDropped: number; clientRetriesDropped: number; files: Array<{ name: string }> }>; parts: string[] }> {
      const keys = (await local.list(layout.late(REF))).map((o) => o.key);
      const parts = keys.filter((k) => k.endsWith('.avro'));
      const manifests = await Promise.all(keys.filter((k) => k.endsWith('.manifest.json')).map(async (k) => JSON.parse((await local.get(k)).toString('utf8'))));
      return { records: await readWithFastavro(parts.map((k) => path.join(local.root, k))), manifests, parts };
    },
  };
  return w;
}

const idsOf = (records: ReadRecord[]) => records.map((r) => r.event_id).filter((id) => id.startsWith('app:')).sort();

describe('late events de-duplicated by client event id', () => {
  for (const closedFrom of ['the close\'s own compaction', 'a segment compacted while the window was open'] as const) {
    it(`a client retry whose copy arrives after the close is not in late/ (closed ids from ${closedFrom})`, async () => {
      const w = await world();
      const checker = w.checker('checker-a');
      // The original: accepted by one gateway at +10 s, in the window before its close.
      await w.stage([batch('gw-1', 10, 10, { 3: 'app:c-1', 5: 'app:c-3' })]);
      if (closedFrom === 'a segment compacted while the window was open') {
        // Compacted while open: the ids come from a segment's chunk, not from the close.
        const whileOpen = new Checker({ registry: w.registry, storage: w.local, clock: { nowUs: () => BASE_RECEIVE_US + 20 * S }, options: resolveCheckerOptions({}, { location: w.local.location, windowS: STAGED_WINDOW_S, checkerId: 'checker-open', segmentFiles: 1 }) });
        await whileOpen.tick();
        await whileOpen.stop(); // waits for the compaction it started
        assert.equal(whileOpen.segmentsMade, 1, 'a segment was compacted while the window was open');
      }
      await w.round(checker);
      assert.equal((await w.closed()).length, 10, 'the window closed with the original');
      assert.deepEqual(idsOf(await w.closed()), ['app:c-1', 'app:c-3']);
      // The retry (a new publisher seq on another gateway, accepted 30 s later) reaches staging after the close,
      // beside a new event with its own id and one without.
      await w.stage([batch('gw-2', 3, 40, { 0: 'app:c-1', 1: 'app:c-2' })]);
      await w.round(checker);
      assert.deepEqual(checker.errors, []);
      const late = await w.late();
      assert.deepEqual(idsOf(late.records), ['app:c-2'], 'the retry of app:c-1 is dropped; the new id is kept');
      assert.equal(late.records.length, 2);
      assert.equal(late.manifests.length, 1);
      assert.equal(late.manifests[0]!.events, 2);
      assert.equal(late.manifests[0]!.clientRetriesDropped, 1, 'the late manifest counts the client-id duplicate it dropped');
      assert.equal(late.manifests[0]!.duplicatesDropped, 1);
      assert.deepEqual(await w.local.list('staging/'), [], 'the late staging is removed');
      // A copy entirely made of retries leaves nothing in late/ (and no manifest of nothing).
      await w.stage([batch('gw-3', 1, 50, { 0: 'app:c-3' })]);
      await w.round(checker);
      assert.equal((await w.late()).parts.length, 1, 'a message of retries only writes no late file');
      assert.deepEqual(await w.local.list('staging/'), []);
    });
  }

  it('beyond the horizon a copy is a new event: it is kept in late/', async () => {
    const w = await world();
    const checker = w.checker('checker-a', w.local, { clientIdHorizonS: 60 });
    await w.stage([batch('gw-1', 5, 10, { 0: 'app:c-1' })]);
    await w.round(checker);
    await w.stage([batch('gw-2', 2, 100, { 0: 'app:c-1', 1: 'app:c-2' })]);
    await w.round(checker);
    assert.deepEqual(idsOf((await w.late()).records), ['app:c-1', 'app:c-2'], '90 s after the kept copy, past a 60 s horizon');
  });

  it('two late copies of one client id in one window land once, even moved by two racing checkers', async () => {
    const w = await world();
    const a = w.checker('checker-a');
    const b = w.checker('checker-b');
    // The closed window holds no client ids at all (no index is written for it).
    await w.stage([batch('gw-1', 4, 10, {})]);
    await w.round(a);
    assert.deepEqual(await w.local.list(clientIdsPrefix(REF)), [], 'a window without client ids costs nothing under checker/client-ids/');
    // Two gateways both accepted a copy of app:c-9 (a retry after a timeout); both reach staging after the close.
    await w.stage([batch('gw-2', 3, 20, { 1: 'app:c-9' }), batch('gw-3', 2, 25, { 0: 'app:c-9', 1: 'app:c-10' })]);
    await w.round(a, b);
    assert.deepEqual([...a.errors, ...b.errors], []);
    const late = await w.late();
    assert.deepEqual(idsOf(late.records), ['app:c-10', 'app:c-9'], 'app:c-9 once');
    assert.equal(late.records.length, 4, 'every other event once');
    assert.equal(late.manifests.reduce((n, m) => n + m.clientRetriesDropped, 0), 1);
    assert.equal(new Set(late.records.map((r) => `${r.publisher}/${r.seq}`)).size, late.records.length, 'no (publisher, seq) twice');
  });

  it('a checker that decided from a stale view of the decisions loses the number, reads the winner\'s decision and decides again', async () => {
    const w = await world();
    const [one, two] = await w.stage([batch('gw-2', 2, 20, { 0: 'app:c-9' }), batch('gw-3', 2, 25, { 1: 'app:c-9' })]);
    const options = { horizonUs: 600 * S, checker: 'test', nowMs: Date.now(), closedAttempt: 'none' };
    const a = new LateClientIds(w.local, w.registry, REF, options);
    await a.prepare([{ manifest: one!.manifest, msg: one!.manifest.messages[0]! }]);
    // b lists the decisions before a commits: it sees none, so it first decides to keep its copy of app:c-9.
    let stale = true;
    const lagging = new Proxy(w.local, {
      get(target, prop, receiver) {
        if (prop === 'list') return async (prefix: string) => (stale && prefix.includes('/late-') ? ((stale = false), []) : target.list(prefix));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const b = new LateClientIds(lagging, w.registry, REF, options);
    await b.prepare([{ manifest: two!.manifest, msg: two!.manifest.messages[0]! }]);
    assert.deepEqual([...(await a.decide(one!.manifest.messages[0]!))], [], 'the first copy is kept');
    assert.deepEqual([...(await b.decide(two!.manifest.messages[0]!))], [1], 'the second is dropped, though b first saw no decision');
    assert.equal(stale, false, 'b did read a stale list');
    assert.equal((await w.local.list(`${clientIdsPrefix(REF)}late-`)).length, 2, 'one decision each, numbered 0 and 1');
  });

  it('a crash between a late part and its manifest: the next round lists the part, and every event is in one place', async () => {
    const w = await world();
    let crashes = 0;
    const crashing = overrideStorage(w.local, {
      createOnly: async (key, data) => {
        if (crashes === 0 && key.startsWith('late/') && key.endsWith('.manifest.json')) {
          crashes++;
          throw new Error('simulated crash before the late manifest');
        }
        return w.local.createOnly(key, data);
      },
    });
    const checker = w.checker('checker-a', crashing);
    await w.stage([batch('gw-1', 6, 10, { 2: 'app:c-1' })]);
    await w.round(checker);
    // Late: a retry of app:c-1 and a new app:c-2.
    await w.stage([batch('gw-2', 4, 30, { 0: 'app:c-1', 3: 'app:c-2' })]);
    await w.round(checker);
    assert.equal(crashes, 1, 'the crash happened');
    assert.match(checker.errors.join('\n'), /simulated crash/);
    assert.equal((await w.late()).manifests.length, 0, 'the part is there, its manifest is not');
    // Before the next round, another copy of app:c-2 arrives: the committed decision kept app:c-2 in the first late file.
    await w.stage([batch('gw-3', 2, 35, { 0: 'app:c-2' })]);
    await w.round(checker);
    const late = await w.late();
    assert.deepEqual(idsOf(late.records), ['app:c-2']);
    assert.deepEqual(late.records.filter((r) => r.publisher === 'gw-2').map((r) => r.seq).sort(), [1, 2, 3], 'the first late file: all but the retry of app:c-1');
    assert.deepEqual(late.records.filter((r) => r.publisher === 'gw-3').map((r) => r.seq), [1], 'the second: all but its copy of app:c-2');
    assert.deepEqual(late.manifests.flatMap((m) => m.files.map((f) => layout.late(REF) + f.name)).sort(), late.parts.sort(), 'every late part is listed');
    const first = late.manifests.find((m) => m.events === 3)!;
    assert.equal(first.clientRetriesDropped, 1, 'the manifest written after the crash still counts the retry it dropped');
    assert.equal([...idsOf(await w.closed()), ...idsOf(late.records)].filter((id) => id === 'app:c-1').length, 1, 'app:c-1 once in all');
    assert.deepEqual(await w.local.list('staging/'), []);
  });
});
