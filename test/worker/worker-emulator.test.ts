// Integration tests of the worker against the real Pub/Sub emulator and both storage backends (a local directory and fake-gcs-server).
//
// Each test provisions its own topics (a fresh prefix), so tests never see each other's messages.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { emulatorClient, startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { provisionTopics } from '../../services/local-stack/provision.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import type { Storage } from '../../services/storage/storage.ts';
import type { CodecName } from '../../services/wire/codecs.ts';
import { topicNames, type TopicNames } from '../../services/wire/topics.ts';
import type { DeadLetterRecord } from '../../services/worker/dead-letter.ts';
import { resolveWorkerOptions, type WorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import { readWithFastavro } from '../fixtures/worker-fastavro.ts';
import { FlakyStorage } from '../fixtures/worker-flaky-storage.ts';
import { buildBatch } from '../fixtures/worker-messages.ts';
import { readStaging, seqCounts } from '../fixtures/worker-staging.ts';
import { SAMPLE_EVENTS, trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const BUCKET = 'hg-worker-test';
const WAIT_MS = 90_000;

type Backend = 'local' | 'gcs';

describe('worker on the Pub/Sub emulator', () => {
  let registry: Registry;
  let stack: LocalStack;
  const clients: PubSub[] = [];
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry, gcsBucket: BUCKET, ackDeadlineS: 10 });
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await stack.stop();
  });

  /** A Pub/Sub client of its own, as a separate process would have. */
  const client = (): PubSub => {
    const c = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
    clients.push(c);
    return c;
  };

  /** Fresh topics and subscriptions for one test. */
  const freshTopics = async (): Promise<{ prefix: string; names: TopicNames }> => {
    const prefix = `t${randomBytes(4).toString('hex')}-`;
    const names = topicNames(prefix);
    await provisionTopics(stack.client, registry, names, { ackDeadlineS: 10 });
    return { prefix, names };
  };

  const storageFor = async (backend: Backend): Promise<Storage> =>
    backend === 'local' ? openStorage(await tempDir('hg-worker-it-')) : openStorage(`gs://${BUCKET}/${randomBytes(4).toString('hex')}`, { gcsEndpoint: stack.gcs!.endpoint });

  const startWorker = (storage: Storage, prefix: string, overrides: WorkerOptions = {}): Worker => {
    const options = resolveWorkerOptions({}, { topicPrefix: prefix, maxFileAgeMs: 300, initialBackoffMs: 20, maxBackoffMs: 200, ...overrides });
    const worker = new Worker(options, { registry, storage, pubsub: client() });
    worker.start();
    return worker;
  };

  /** Publishes `count` sample events of `type` through the SDK; returns the expected delivered records by "publisher/seq". */
  const publish = async (prefix: string, type: string, count: number, codec: CodecName, version?: number, paced = false): Promise<Map<string, Record<string, unknown>>> => {
    const publisher = new Publisher({ registry, pubsub: client(), topicPrefix: prefix, codec, maxBatchEvents: paced ? 50 : 200, lingerMs: 5 });
    const expected = new Map<string, Record<string, unknown>>();
    const pending: Promise<void>[] = [];
    for (let seq = 0; seq < count; seq++) {
      // Paced: a message every few ms rather than all at once, so the emulator spreads them over every worker's stream.
      if (paced && seq % 50 === 0) await new Promise((r) => setTimeout(r, 25));
      const payload = type === 'track_played' && version === 1 ? trackPlayed(seq, false) : SAMPLE_EVENTS[type]!(seq);
      pending.push(publisher.publish(type, payload, version === undefined ? {} : { version }));
      expected.set(`${publisher.id}/${seq}`, { event_id: `${publisher.id}-${seq}`, publisher: publisher.id, seq, ...payload });
    }
    await Promise.all(pending);
    await publisher.close();
    return expected;
  };

  const stagedEvents = (workers: readonly Worker[]) => workers.reduce((n, w) => n + w.stats().stagedEvents, 0);

  for (const backend of ['local', 'gcs'] as const) {
    it(`[${backend}] fastavro reads back exactly the published records, for every codec and schema version`, async () => {
      const { prefix } = await freshTopics();
      const storage = await storageFor(backend);
      const worker = startWorker(storage, prefix);
      const expected = new Map<string, Map<string, Record<string, unknown>>>();
      const batches = await Promise.all([
        publish(prefix, 'track_played', 1500, 'deflate'),
        publish(prefix, 'track_played', 300, 'deflate', 1),
        publish(prefix, 'ui_interaction', 700, 'zstandard'),
        publish(prefix, 'search_performed', 400, 'snappy'),
      ]);
      (['track_played', 'track_played', 'ui_interaction', 'search_performed'] as const).forEach((type, i) => {
        const into = expected.get(type) ?? new Map<string, Record<string, unknown>>();
        for (const [k, v] of batches[i]!) into.set(k, v);
        expected.set(type, into);
      });
      await waitUntil('every event to be staged', async () => stagedEvents([worker]) >= 2900, WAIT_MS);
      await worker.stop();

      const staged = await readStaging(storage, registry);
      assert.deepEqual(staged.orphans, []);
      assert.deepEqual(new Set(staged.manifests.map((m) => `${m.type}/${m.codec}/v${m.version}`)), new Set(['track_played/deflate/v2', 'track_played/deflate/v1', 'ui_interaction/zstandard/v1', 'search_performed/snappy/v1']));
      const files = await readWithFastavro(storage, staged.manifests.map((m) => m.file));
      const byKey = new Map(staged.manifests.map((m) => [m.file, m]));
      for (const [type, want] of expected) {
        const got = new Map<string, Record<string, unknown>>();
        for (const f of files) {
          const manifest = byKey.get(f.key)!;
          if (manifest.type !== type) continue;
          assert.equal(f.codec, manifest.codec);
          for (const r of f.records) {
            const { receive_time: receiveUs, ...rest } = r;
            assert.equal(Math.floor((receiveUs as number) / 3_600_000_000), manifest.window, 'receive time inside the file window');
            // v1 records of track_played carry no shuffle field; fastavro reads each file with its own writer schema.
            const key = `${String(r.publisher)}/${String(r.seq)}`;
            assert.ok(!got.has(key), `duplicate ${key} in a run without failures`);
            got.set(key, rest);
          }
        }
        assert.equal(got.size, want.size, `${type}: ${got.size} records staged, ${want.size} published`);
        for (const [key, record] of want) assert.deepEqual(got.get(key), record, `${type} ${key}`);
      }
      const stats = worker.stats();
      assert.equal(stats.stagedEvents, 2900);
      assert.equal(stats.acks, stats.stagedMessages);
      assert.equal(stats.nacks, 0);
      await storage.close();
    });
  }

  for (const [n, backend] of [[2, 'local'], [3, 'gcs']] as const) {
    it(`[${backend}] ${n} workers on the same subscriptions together stage every event`, async () => {
      const { prefix } = await freshTopics();
      const storage = await storageFor(backend);
      const workers = Array.from({ length: n }, () => startWorker(storage, prefix, { maxMessagesPerSubscription: 4, streamsPerSubscription: 1 }));
      const [tp, ui] = await Promise.all([publish(prefix, 'track_played', 3000, 'deflate', undefined, true), publish(prefix, 'ui_interaction', 1000, 'deflate', undefined, true)]);
      await waitUntil('every event to be staged', async () => stagedEvents(workers) >= 4000, WAIT_MS);
      await Promise.all(workers.map((w) => w.stop()));
      const staged = await readStaging(storage, registry);
      const tpSeqs = seqCounts(staged.records, 'track_played');
      const uiSeqs = seqCounts(staged.records, 'ui_interaction');
      for (const key of tp.keys()) assert.ok(tpSeqs.has(key), `track_played ${key} staged`);
      for (const key of ui.keys()) assert.ok(uiSeqs.has(key), `ui_interaction ${key} staged`);
      assert.equal(tpSeqs.size, 3000);
      assert.equal(uiSeqs.size, 1000);
      // The work was really shared (paced publishing lets the emulator spread messages over the streams).
      assert.ok(new Set(staged.manifests.map((m) => m.worker)).size >= 2, 'at least two workers staged messages');
      const ids = new Set(workers.map((w) => w.id));
      for (const m of staged.manifests) assert.ok(ids.has(m.worker) && m.file.includes(`/${m.worker}-`), 'files are named after their worker');
      await storage.close();
    });
  }

  it('[local] each kind of malformed message lands in the dead-letter area with its reason, and the worker keeps staging', async () => {
    const { prefix, names } = await freshTopics();
    const storage = await storageFor('local');
    const worker = startWorker(storage, prefix);
    const raw = client();
    const topic = raw.topic(names.eventTopic('track_played'));
    const good = buildBatch(registry, { count: 10, publisher: 'raw-pub', receiveUs: Date.now() * 1000 });
    const kinds: Array<[string, Buffer, Record<string, string>]> = [
      ['bad_attributes', Buffer.from('no attributes'), {}],
      ['bad_attributes', good.data, { ...good.attributes, codec: 'brotli' }],
      ['unknown_type', good.data, { ...good.attributes, type: 'not_registered' }],
      ['unknown_version', good.data, { ...good.attributes, version: '42' }],
      ['bad_records', good.data, { ...good.attributes, count: '11' }],
      ['bad_records', good.data, { ...good.attributes, count: '9' }],
      ['corrupt_block', randomBytes(300), good.attributes],
      ['wrong_window_length', good.data, { ...good.attributes, window_s: '60', window: String(Math.floor(Number(good.attributes.min_rt) / 60e6)) }],
    ];
    const sentIds = new Map<string, string>();
    for (const [reason, data, attributes] of kinds) sentIds.set(await topic.publishMessage({ data, attributes }), reason);
    // A track_played batch on ui_interaction's topic.
    sentIds.set(await raw.topic(names.eventTopic('ui_interaction')).publishMessage({ data: good.data, attributes: good.attributes }), 'wrong_topic');
    const goodId = await topic.publishMessage({ data: good.data, attributes: good.attributes });

    await waitUntil('every bad message to be dead-lettered', async () => Object.values(worker.stats().deadLettered).reduce((a, b) => a + b, 0) >= sentIds.size, WAIT_MS);
    const letters = await storage.list('deadletter/');
    const seen = new Map<string, string>();
    for (const l of letters) {
      const record = JSON.parse((await storage.get(l.key)).toString('utf8')) as DeadLetterRecord;
      seen.set(record.messageId, record.reason);
      assert.equal(record.subscription.endsWith(names.workerSubscription(record.reason === 'wrong_topic' ? 'ui_interaction' : 'track_played')), true);
      assert.ok(record.detail.length > 0);
    }
    assert.deepEqual(seen, sentIds);

    // Still running: more good messages after the bad ones are staged.
    const more = await publish(prefix, 'track_played', 500, 'deflate');
    await waitUntil('good messages to be staged', async () => worker.stats().stagedEvents >= 510, WAIT_MS);
    await worker.stop();
    const staged = await readStaging(storage, registry);
    const seqs = seqCounts(staged.records, 'track_played');
    for (const key of more.keys()) assert.ok(seqs.has(key));
    assert.ok(staged.manifests.some((m) => m.messages.some((msg) => msg.messageId === goodId)));
    await storage.close();
  });

  it('[gcs] storage failing: no ack while writes fail (retried, then nacked for redelivery), every event staged after recovery', async () => {
    const { prefix } = await freshTopics();
    const flaky = new FlakyStorage(await storageFor('gcs'));
    flaky.failWrites(Infinity);
    // A short retry deadline, so the give-up path (nack, then redelivery) runs too.
    const worker = startWorker(flaky, prefix, { writeRetryDeadlineMs: 400 });
    const published = publish(prefix, 'track_played', 2000, 'deflate');
    await waitUntil('writes to be retried and given up', async () => worker.stats().writeRetries >= 5 && worker.stats().nacks >= 1, WAIT_MS);
    const expected = await published;
    assert.equal(worker.stats().acks, 0, 'nothing acked while storage fails');
    assert.equal(worker.stats().stagedEvents, 0);
    flaky.heal();
    // Nothing is acked before it is staged, so the acks count tells when to look (polling storage could hang on a stuck request).
    await waitUntil('every event to be staged after recovery', async () => worker.stats().stagedEvents >= 2000, WAIT_MS, 200);
    await worker.stop();
    const staged = await readStaging(flaky, registry);
    const seqs = seqCounts(staged.records, 'track_played');
    for (const key of expected.keys()) assert.ok(seqs.has(key), `${key} staged`);
    assert.deepEqual(staged.orphans, [], 'failures before a write leave no staging file behind (nor one without its manifest)');
    assert.ok(worker.stats().acks > 0);
    await flaky.close();
  });
});
