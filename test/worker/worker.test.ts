// Unit tests of the Worker with an in-memory message source and a clock the test drives: flush triggers, grouping, acks only after durability, dead letters, storage failures, stop.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import type { Storage } from '../../services/storage/storage.ts';
import type { Clock } from '../../services/time/clock.ts';
import { DEAD_LETTER_REASONS } from '../../services/worker/message-validator.ts';
import { resolveWorkerOptions, type WorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import type { InboundMessage } from '../../services/worker/message-source.ts';
import { Deadline, planShutdown, shutdownOffsets } from '../../services/worker/shutdown-budget.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import type { DeadLetterRecord } from '../../services/worker/dead-letter.ts';
import { FlakyStorage } from '../fixtures/worker-flaky-storage.ts';
import { BASE_RECEIVE_US, buildBatch, FakeSource, fakeInbound, type BatchSpec, type FakeInbound } from '../fixtures/worker-messages.ts';
import { readStaging, seqCounts } from '../fixtures/worker-staging.ts';
import { messageWithRefusedRecords } from '../fixtures/refused-records.ts';
import { DEAD_LETTER_NOTE_SUFFIX, parseDeadLetterNote } from '../../services/storage/dead-letter-note.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A clock that only moves when the test says so. */
class TestClock implements Clock {
  us: number;
  constructor(us: number) {
    this.us = us;
  }
  nowUs(): number {
    return this.us;
  }
}

const WAIT_MS = 20_000;

describe('worker (in-memory source, driven clock)', () => {
  let registry: Registry;
  before(async () => {
    registry = await Registry.load();
  });

  interface Rig {
    worker: Worker;
    source: FakeSource;
    clock: TestClock;
    storage: Storage;
    send(spec?: BatchSpec, subscriptionType?: string): FakeInbound;
  }

  const rig = async (overrides: WorkerOptions = {}, wrap: (s: Storage) => Storage = (s) => s): Promise<Rig> => {
    const storage = wrap(await openStorage(await tempDir('hg-worker-unit-')));
    const source = new FakeSource();
    // 10 minutes into the hour of BASE_RECEIVE_US: the window is open.
    const clock = new TestClock(BASE_RECEIVE_US + 600_000_000);
    const options = resolveWorkerOptions({}, { workerId: 'wtest', flushCheckIntervalMs: 5, initialBackoffMs: 1, maxBackoffMs: 10, ...overrides });
    const worker = new Worker(options, { registry, storage, source, clock });
    worker.start();
    const send = (spec: BatchSpec = {}, subscriptionType = spec.type ?? 'track_played') => {
      const b = buildBatch(registry, spec);
      const m = fakeInbound(b.data, b.attributes, subscriptionType);
      source.deliver(m);
      return m;
    };
    return { worker, source, clock, storage, send };
  };

  /** Lets timers and I/O run a little without moving the test clock. */
  const settleIo = () => new Promise((r) => setTimeout(r, 50));

  it('T01 holds messages (no ack, no file) until the file is old enough, then writes it and acks every message', async () => {
    const { worker, clock, storage, send } = await rig({ maxFileAgeMs: 1000 });
    const sent = [send({ firstSeq: 0, count: 30 }), send({ firstSeq: 30, count: 30 }), send({ firstSeq: 60, count: 40 })];
    await settleIo();
    assert.deepEqual(sent.map((m) => m.settled), [undefined, undefined, undefined], 'nothing acked before it is durable');
    assert.deepEqual(await storage.list('staging/'), []);
    clock.us += 1_000_000;
    await waitUntil('the messages to be acked', async () => sent.every((m) => m.settled === 'ack'), WAIT_MS, 5);
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1, 'one file for one (type, window, version, codec)');
    assert.equal(staged.records.length, 100);
    const stats = worker.stats();
    assert.equal(stats.acks, 3);
    assert.equal(stats.stagedEvents, 100);
    assert.equal(stats.stagedFiles, 1);
    assert.equal(stats.heldMessages, 0);
    assert.equal(stats.bufferedBytes, 0);
    await worker.stop();
  });

  it('T02 writes a file as soon as it reaches maxFileBytes, without waiting for its age', async () => {
    const { worker, storage, send } = await rig({ maxFileBytes: 8 * 1024, maxFileAgeMs: 3_600_000 });
    const sent: FakeInbound[] = [];
    for (let i = 0; i < 10; i++) sent.push(send({ firstSeq: i * 50, count: 50 }));
    await waitUntil('a full file to be written', async () => sent.filter((m) => m.settled === 'ack').length >= 2, WAIT_MS, 5);
    const staged = await readStaging(storage, registry);
    assert.ok(staged.manifests.length >= 1);
    for (const m of staged.manifests) assert.ok(m.bytes >= 8 * 1024, `only full files are written before stop: ${m.file} holds ${m.bytes} bytes`);
    await worker.stop();
    assert.ok(sent.every((m) => m.settled === 'ack'));
    assert.equal(seqCounts((await readStaging(storage, registry)).records, 'track_played').size, 500);
  });

  it('T03 writes at once when the window has ended, even with a long max age', async () => {
    const { worker, clock, storage, send } = await rig({ windowLengthS: 10, maxFileAgeMs: 3_600_000 });
    const windowStartUs = BASE_RECEIVE_US; // a multiple of 10 s
    clock.us = windowStartUs + 5_000_000;
    const m = send({ windowS: 10, receiveUs: windowStartUs + 1_000_000 });
    await settleIo();
    assert.equal(m.settled, undefined, 'window still open: held');
    clock.us = windowStartUs + 10_000_000; // the window's first microsecond after its end
    await waitUntil('the ended window to be written', async () => m.settled === 'ack', WAIT_MS, 5);
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1);
    assert.equal(staged.manifests[0]!.windowS, 10);
    assert.match(staged.manifests[0]!.file, /^staging\/track_played\/20261122T120000Z\//);
    await worker.stop();
  });

  it('T04 groups by type, window, schema version and codec: one file each, never mixed', async () => {
    const { worker, storage, send } = await rig({ maxFileAgeMs: 3_600_000 });
    send({ count: 5 });
    send({ count: 5, firstSeq: 5 });
    send({ count: 5, version: 1, publisher: 'old-pub' });
    send({ count: 5, codec: 'zstandard', publisher: 'zstd-pub' });
    send({ count: 5, receiveUs: BASE_RECEIVE_US + 3_600_000_000, publisher: 'next-hour-pub' });
    send({ type: 'ui_interaction', count: 5 });
    send({ type: 'search_performed', count: 5 });
    await worker.flush();
    const staged = await readStaging(storage, registry);
    const shapes = staged.manifests.map((m) => `${m.type} ${m.window} v${m.version} ${m.codec} ${m.events}`).sort();
    const w = Math.floor(BASE_RECEIVE_US / 3_600_000_000);
    assert.deepEqual(shapes, [
      `search_performed ${w} v1 deflate 5`,
      `track_played ${w + 1} v2 deflate 5`,
      `track_played ${w} v1 deflate 5`,
      `track_played ${w} v2 deflate 10`,
      `track_played ${w} v2 zstandard 5`,
      `ui_interaction ${w} v1 deflate 5`,
    ].sort());
    await worker.stop();
  });

  it('T05 every malformed kind is dead-lettered with its reason, bytes and attributes, then acked; good messages keep flowing', async () => {
    const { worker, storage, source, send } = await rig({ maxFileAgeMs: 3_600_000 });
    const good = buildBatch(registry, { count: 10 });
    const bad: Array<[string, FakeInbound]> = [
      ['bad_attributes', fakeInbound(Buffer.from('raw'), {}, 'track_played')],
      ['bad_attributes', fakeInbound(good.data, { ...good.attributes, codec: 'lzma' }, 'track_played')],
      ['unknown_type', fakeInbound(good.data, { ...good.attributes, type: 'mystery' }, 'track_played')],
      ['wrong_topic', fakeInbound(good.data, good.attributes, 'ui_interaction')],
      ['unknown_version', fakeInbound(good.data, { ...good.attributes, version: '3' }, 'track_played')],
      ['wrong_window_length', fakeInbound(good.data, { ...good.attributes, window_s: '60', window: String(Math.floor(BASE_RECEIVE_US / 60e6)) }, 'track_played')],
      ['corrupt_block', fakeInbound(Buffer.from('garbage garbage garbage'), good.attributes, 'track_played')],
      ['bad_records', fakeInbound(good.data, { ...good.attributes, count: '12' }, 'track_played')],
      ['bad_records', fakeInbound(good.data, { ...good.attributes, count: '3' }, 'track_played')],
    ];
    for (const [, m] of bad) source.deliver(m);
    const fine = send({ count: 10, firstSeq: 100 });
    await worker.flush();
    assert.ok(bad.every(([, m]) => m.settled === 'ack'), 'dead letters are acked once written');
    assert.equal(fine.settled, 'ack');
    const letters = await storage.list('deadletter/');
    assert.equal(letters.length, bad.length);
    for (const [reason, m] of bad) {
      const entry = letters.find((l) => l.key.endsWith(`/${m.id}.json`));
      assert.ok(entry, `dead letter of message ${m.id}`);
      const record = JSON.parse((await storage.get(entry.key)).toString('utf8')) as DeadLetterRecord;
      assert.equal(record.reason, reason);
      assert.ok(record.detail.length > 0);
      assert.deepEqual(record.attributes, m.attributes);
      assert.deepEqual(Buffer.from(record.dataBase64, 'base64'), m.data);
      assert.equal(record.messageId, m.id);
      assert.equal(record.worker, 'wtest');
      assert.equal(record.subscription, m.subscription);
      const dir = m.attributes.type === undefined ? '_unknown' : m.attributes.type;
      assert.match(entry.key, new RegExp(`^deadletter/${dir}/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/`));
    }
    const stats = worker.stats();
    assert.deepEqual(stats.deadLettered, { ...Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, 0])), bad_attributes: 2, unknown_type: 1, wrong_topic: 1, unknown_version: 1, wrong_window_length: 1, corrupt_block: 1, bad_records: 2 });
    assert.equal(stats.stagedEvents, 10);
    // The same message delivered again is written once and acked again.
    const again = fakeInbound(Buffer.from('raw'), {}, 'track_played', bad[0]![1].id);
    source.deliver(again);
    await worker.flush();
    assert.equal(again.settled, 'ack');
    assert.equal((await storage.list('deadletter/')).length, bad.length);
    await worker.stop();
  });

  it('T05b a message with refused records: the good ones are staged, the refused ones dead-lettered and noted in their window, the message acked once', async () => {
    const { worker, storage, source } = await rig({ maxFileAgeMs: 3_600_000 });
    const made = messageWithRefusedRecords(registry, { count: 20, firstSeq: 40 }, [7, 8, 13]);
    const m = fakeInbound(made.data, made.attributes, 'track_played');
    source.deliver(m);
    await worker.flush();
    assert.equal(m.settled, 'ack');
    assert.equal(worker.stats().acks, 1, 'settled once, though staged as several blocks');
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1);
    assert.deepEqual(staged.manifests[0]!.messages.map((x) => [x.firstSeq, x.count, x.messageId]), [[40, 7, m.id], [49, 4, m.id], [54, 6, m.id]]);
    const seqs = staged.records.map((r) => Number(r.record.seq));
    assert.deepEqual(seqs, [...Array(20).keys()].map((i) => 40 + i).filter((s) => ![47, 48, 53].includes(s)));
    // The staged blocks hold the kept records byte for byte (readStaging decoded them; compare the encodings).
    const schema = registry.version('track_played', Number(made.attributes.version));
    const expected = made.recordBytes.filter((_, i) => !made.refused.includes(i));
    assert.deepEqual(staged.records.map((r) => Buffer.from(schema.deliveredType.toBuffer(r.record))), expected);
    const [letter] = await storage.list('deadletter/');
    const record = JSON.parse((await storage.get(letter!.key)).toString('utf8')) as DeadLetterRecord;
    assert.equal(record.reason, 'bad_records');
    assert.deepEqual(record.deadLetteredSeqs, [[47, 49], [53, 54]]);
    assert.deepEqual(Buffer.from(record.dataBase64, 'base64'), m.data, 'the dead letter keeps the whole message');
    assert.match(record.detail, /3 of 20 records .* refused \(the others were kept\): record 8 of 20 \(seq 47\): string is not valid UTF-8/);
    const notes = (await storage.list('staging/')).filter((o) => o.key.endsWith(DEAD_LETTER_NOTE_SUFFIX));
    assert.equal(notes.length, 1);
    const note = parseDeadLetterNote(notes[0]!.key, await storage.get(notes[0]!.key));
    assert.deepEqual([note.publisher, note.ranges, note.deadLetter, note.reason, note.window], ['pub-test', [[47, 49], [53, 54]], letter!.key, 'bad_records', Number(made.attributes.window)]);
    assert.equal(worker.stats().deadLettered.bad_records, 1);
    await worker.stop();
  });

  it('T05c a message whose every record is refused, or whose seqs are known but whose records cannot be told apart, is noted whole; one whose seqs are unknown is not', async () => {
    const { worker, storage, source } = await rig({ maxFileAgeMs: 3_600_000 });
    const allBad = messageWithRefusedRecords(registry, { count: 3, firstSeq: 0 }, [0, 1, 2], 'loneSurrogate');
    const good = buildBatch(registry, { count: 5, firstSeq: 10 });
    const sent = [
      fakeInbound(allBad.data, allBad.attributes, 'track_played'),
      fakeInbound(good.data, { ...good.attributes, version: '3' }, 'track_played'),
      fakeInbound(good.data, { ...good.attributes, count: '6' }, 'track_played'),
      fakeInbound(good.data, { ...good.attributes, publisher: 'other', type: 'mystery' }, 'track_played'),
    ];
    for (const m of sent) source.deliver(m);
    await worker.flush();
    assert.ok(sent.every((m) => m.settled === 'ack'));
    assert.equal((await readStaging(storage, registry)).manifests.length, 0, 'nothing to stage');
    const notes = await Promise.all((await storage.list('staging/')).map(async (o) => parseDeadLetterNote(o.key, await storage.get(o.key))));
    assert.deepEqual(notes.map((n) => [n.reason, n.ranges]).sort(), [['bad_records', [[0, 3]]], ['bad_records', [[10, 16]]], ['unknown_version', [[10, 15]]]].sort());
    await worker.stop();
  });

  it('T06 storage failing: nothing is acked while writes fail, retries are counted, everything is staged after recovery', async () => {
    let flaky!: FlakyStorage;
    const { worker, clock, storage, send } = await rig({ maxFileAgeMs: 100, writeRetryDeadlineMs: 600_000 }, (s) => (flaky = new FlakyStorage(s)));
    flaky.failWrites(Infinity);
    const sent = [send({ count: 20 }), send({ count: 20, firstSeq: 20 })];
    clock.us += 200_000;
    await waitUntil('a few retries', async () => worker.stats().writeRetries >= 3, WAIT_MS, 5);
    assert.deepEqual(sent.map((m) => m.settled), [undefined, undefined], 'no ack while the write fails');
    assert.equal(worker.stats().acks, 0);
    flaky.heal();
    await waitUntil('the file to be written after recovery', async () => sent.every((m) => m.settled === 'ack'), WAIT_MS, 5);
    const staged = await readStaging(storage, registry);
    assert.equal(seqCounts(staged.records, 'track_played').size, 40);
    assert.equal(worker.stats().nacks, 0);
    await worker.stop();
  });

  it('T07 storage failing past the retry deadline: the messages are nacked (Pub/Sub delivers them again), never acked', async () => {
    let flaky!: FlakyStorage;
    const { worker, clock, storage, send } = await rig({ maxFileAgeMs: 100, writeRetryDeadlineMs: 30 }, (s) => (flaky = new FlakyStorage(s)));
    flaky.failWrites(Infinity);
    const m = send({ count: 20 });
    clock.us += 200_000;
    await waitUntil('the write to be given up', async () => m.settled !== undefined, WAIT_MS, 5);
    assert.equal(m.settled, 'nack');
    assert.equal(worker.stats().writeFailures, 1);
    assert.deepEqual((await readStaging(storage, registry)).manifests, []);
    await worker.stop();
  });

  it('T08 buffered bytes above the global cap write the largest open file at once', async () => {
    const { worker, send } = await rig({ maxFileAgeMs: 3_600_000, maxFileBytes: 1 << 30, maxBufferedBytes: 6 * 1024 });
    const small = send({ type: 'search_performed', count: 2 });
    const big: FakeInbound[] = [];
    for (let i = 0; i < 5; i++) big.push(send({ count: 40, firstSeq: i * 40 }));
    await waitUntil('the largest file to be written', async () => big.some((m) => m.settled === 'ack'), WAIT_MS, 5);
    assert.equal(small.settled, undefined, 'the small file stays open');
    assert.ok(worker.stats().peakBufferedBytes > 6 * 1024);
    await worker.stop();
    assert.equal(small.settled, 'ack');
  });

  it('T09 stop() writes and acks what is open, releases the source, is idempotent, and hands back what arrives afterwards', async () => {
    const { worker, source, storage, send } = await rig({ maxFileAgeMs: 3_600_000 });
    const held = send({ count: 10 });
    const stopping = worker.stop();
    assert.equal(worker.stop(), stopping, 'one stop, however often it is asked');
    const late = send({ count: 10, firstSeq: 10 });
    const report = await stopping;
    assert.deepEqual({ ...report, tookMs: 0 }, { flushed: true, abandonedMessages: 0, abandonedWrites: 0, released: true, tookMs: 0 }, 'everything written in time');
    assert.equal(held.settled, 'ack');
    assert.equal(late.settled, 'nack');
    assert.ok(source.closed);
    const staged = await readStaging(storage, registry);
    assert.deepEqual([...seqCounts(staged.records, 'track_played').keys()].length, 10);
    assert.equal(worker.stats().heldMessages, 0);
  });

  it('T11 with a staging codec configured, messages of every codec land in one file of that codec, records intact', async () => {
    const { worker, storage, send } = await rig({ maxFileAgeMs: 3_600_000, codec: 'snappy' });
    send({ count: 10, codec: 'deflate' });
    send({ count: 10, firstSeq: 10, codec: 'zstandard' });
    send({ count: 10, firstSeq: 20, codec: 'snappy' });
    send({ count: 10, firstSeq: 30, codec: 'null' });
    await worker.flush();
    const staged = await readStaging(storage, registry);
    assert.deepEqual(staged.manifests.map((m) => [m.codec, m.events]), [['snappy', 40]]);
    assert.equal(seqCounts(staged.records, 'track_played').size, 40);
    await worker.stop();
  });

  /** A track_played delivery that records every ack() and nack() call in `calls`, not only the first. */
  const recording = (data: Buffer, attributes: Record<string, string>, calls: string[]): InboundMessage => {
    const m = fakeInbound(data, attributes, 'track_played');
    return { id: m.id, data, attributes, publishTimeMs: m.publishTimeMs, subscription: m.subscription, type: m.type, ack: () => void calls.push(`ack ${m.id}`), nack: () => void calls.push(`nack ${m.id}`) };
  };
  const recordingBatch = (spec: BatchSpec, calls: string[]): InboundMessage => {
    const b = buildBatch(registry, spec);
    return recording(b.data, b.attributes, calls);
  };

  /** A storage whose creates wait until the test opens the gate (a storage too slow for any deadline). */
  const gatedCreates = () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    const wrap = (inner: Storage) =>
      overrideStorage(inner, {
        createOnly: async (key, data) => {
          started.push(key);
          await gate;
          return inner.createOnly(key, data);
        },
      });
    return { wrap, started, open };
  };

  it('T12 stop() out of time nacks what is not durable (never acks it, even when its write lands later) and says so in its report', async () => {
    const slow = gatedCreates();
    const { worker, source, storage } = await rig({ maxFileAgeMs: 3_600_000 }, slow.wrap);
    const calls: string[] = [];
    // Two groups (the codec is part of a group's key), so two writes.
    const sent = [recordingBatch({ count: 10 }, calls), recordingBatch({ count: 10, firstSeq: 10, codec: 'zstandard' }, calls)];
    for (const m of sent) source.deliver(m);
    const stopping = worker.stop({ writes: Deadline.after(50), release: Deadline.after(100) });
    await waitUntil('both files to be on their way', async () => slow.started.length === 2, WAIT_MS, 5);
    const report = await stopping;
    assert.deepEqual({ ...report, tookMs: 0 }, { flushed: false, abandonedMessages: 2, abandonedWrites: 2, released: true, tookMs: 0 });
    assert.deepEqual(calls.sort(), sent.map((m) => `nack ${m.id}`).sort(), 'handed back, so Pub/Sub delivers them again');
    assert.ok(source.closed, 'the source is released');
    assert.deepEqual({ acks: worker.stats().acks, nacks: worker.stats().nacks, held: worker.stats().heldMessages }, { acks: 0, nacks: 2, held: 0 });
    // The writes land after the stop gave up on them: a duplicate for the redelivery to make, never an ack.
    slow.open();
    await worker.flush(); // waits for the writes still running
    assert.equal((await readStaging(storage, registry)).manifests.length, 2, 'the late files and manifests landed');
    assert.deepEqual(calls.sort(), sent.map((m) => `nack ${m.id}`).sort(), 'each delivery settled once: no ack after the nack');
    assert.equal(worker.stats().acks, 0);
  });

  it('T13 a dead letter that ends after stop() gave up on its message stages nothing of it and acks nothing', async () => {
    const slow = gatedCreates();
    const { worker, source, storage } = await rig({ maxFileAgeMs: 3_600_000 }, slow.wrap);
    const made = messageWithRefusedRecords(registry, { count: 20, firstSeq: 40 }, [7, 8, 13]);
    const calls: string[] = [];
    const m = recording(made.data, made.attributes, calls);
    source.deliver(m);
    await waitUntil('the dead letter to be on its way', async () => slow.started.length === 1, WAIT_MS, 5);
    const report = await worker.stop({ writes: Deadline.after(20), release: Deadline.after(40) });
    assert.equal(report.abandonedMessages, 1);
    assert.deepEqual(calls, [`nack ${m.id}`]);
    slow.open();
    await worker.flush(); // waits for the dead letter still running, and anything it would stage
    assert.equal((await storage.list('deadletter/')).length, 1, 'the dead letter landed late');
    assert.deepEqual((await readStaging(storage, registry)).manifests, [], 'its kept records are not staged: the redelivery stages them');
    assert.deepEqual(calls, [`nack ${m.id}`], 'no ack after the nack');
  });

  it('T14 the shutdown budget is split into deadlines that add up to it: writes, then release, then the process teardown', () => {
    assert.deepEqual(shutdownOffsets(9000), { writesMs: 7000, releaseMs: 8000, exitMs: 9000 });
    assert.deepEqual(shutdownOffsets(3000), { writesMs: 2000, releaseMs: 2500, exitMs: 3000 });
    assert.deepEqual(shutdownOffsets(60), { writesMs: 40, releaseMs: 50, exitMs: 60 });
    const plan = planShutdown(9000);
    assert.ok(plan.writes.atMs < plan.release.atMs && plan.release.atMs < plan.exit.atMs, 'in order');
    // Two instants of performance.now() plus offsets: equal to 2000 up to floating-point rounding.
    assert.ok(Math.abs(plan.exit.atMs - plan.writes.atMs - 2000) < 1e-6, `${plan.exit.atMs - plan.writes.atMs}`);
  });

  it('T10 refuses a types subset naming a type the registry does not know', async () => {
    const storage = await openStorage(await tempDir('hg-worker-unit-'));
    assert.throws(
      () => new Worker(resolveWorkerOptions({}, { types: ['track_played', 'nope'] }), { registry, storage, source: new FakeSource() }),
      /types not in the registry: nope/,
    );
  });
});
