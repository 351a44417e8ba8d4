// `hourglass-events redrive` of the messages Pub/Sub gave up delivering, end to end: the Pub/Sub emulator, a real worker and checker, the CLI as a process.
//
// In production, after 10 failed deliveries (a storage outage, say) Pub/Sub forwards a message to the
// type's dead-letter topic, adding CloudPubSubDeadLetter* attributes, and the topic's Cloud Storage
// subscription writes it into an Avro file under deadletter/<type>/undeliverable/. The emulator has
// neither, so this test does both: with no worker running, it takes the messages off the worker's
// subscription and writes them exactly in that file format (checked with fastavro), including what
// Pub/Sub may do — a message dead-lettered twice, a record written twice. Their windows close without
// them (incomplete); then a worker starts and redrive puts them back: every event lands exactly once,
// in the late area.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startFakeGcsServer } from '../../services/local-stack/fake-gcs-server.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { GcsBucketStorage } from '../../services/storage/gcs-bucket.ts';
import { layout } from '../../services/storage/layout.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { searchPerformed } from '../helpers/sample-events.ts';
import { encodeArchive, readArchivesWithFastavro, type ArchiveRecord } from './redrive-archive-file.ts';
import { assertExactlyOnce, landedRecords, messageKey, tapTopic, waitForLanded } from './redrive-kit.ts';
import { runHourglass } from './run-hourglass.ts';

const TYPE = 'search_performed';
const EVENTS = 90;

const kit = await startPipeline();
// No worker: as in a long storage outage, every message stays unacknowledged in the worker's subscription.
await kit.worker.stop();
kit.startChecker({ checkerId: 'checker-redrive-undeliverable' });
const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 8 });
const pending: Array<Promise<void>> = [];
for (let i = 0; i < EVENTS; i++) {
  pending.push(publisher.publish(TYPE, searchPerformed(i)));
  if (i % 30 === 29) await new Promise((r) => setTimeout(r, 700));
}
await Promise.all(pending);
await publisher.close();

// Pub/Sub's part: the messages leave the subscription for the dead-letter topic, and its archive subscription writes them out.
const subscription = kit.stack.names.workerSubscription(TYPE);
const original = await drainSubscription(kit.stack.client, subscription, { quietMs: 2000 });
assert.equal(original.reduce((n, m) => n + Number(m.attributes.count), 0), EVENTS);
const nowUs = Date.now() * 1000;
const archived = (m: (typeof original)[number], deadLetterId: string, i: number): ArchiveRecord => ({
  subscription_name: `projects/${kit.stack.pubsub.projectId}/subscriptions/${kit.stack.names.deadLetterTopic(TYPE)}-archive`,
  message_id: deadLetterId,
  publish_time: nowUs + i,
  attributes: {
    ...m.attributes,
    CloudPubSubDeadLetterSourceDeliveryCount: '10',
    CloudPubSubDeadLetterSourceSubscription: subscription,
    CloudPubSubDeadLetterSourceSubscriptionProject: kit.stack.pubsub.projectId,
    CloudPubSubDeadLetterSourceTopicPublishTime: m.publishTime.toISOString(),
  },
  data: m.data,
});
const half = Math.ceil(original.length / 2);
const fileA = original.slice(0, half).map((m, i) => archived(m, `90${i}`, i));
// File B: the rest; the first message again under a new dead-letter id (Pub/Sub may dead-letter a message
// twice); and its own last record written twice (the archive writes at least once).
const fileB = [...original.slice(half).map((m, i) => archived(m, `91${i}`, half + i)), archived(original[0]!, '9299', original.length)];
fileB.push(fileB.at(-1)!);
const keys = [`${layout.deadletterUndeliverable(TYPE)}2026-11-22T21:00:00+00:00_a1.avro`, `${layout.deadletterUndeliverable(TYPE)}2026-11-22T21:05:00+00:00_b2.avro`];
await kit.storage.createOnly(keys[0]!, await encodeArchive(fileA, 'null'));
await kit.storage.createOnly(keys[1]!, await encodeArchive(fileB, 'deflate', 512));
const distinctIds = new Set([...fileA, ...fileB].map((r) => r.message_id)).size;

// The outage outlasts the max wait: the windows close without these events (incomplete, listed as lost), so
// what redrive brings back must go to the late area.
const windows = [...new Set(original.map((m) => Number(m.attributes.window)))];
const closedWithout = await kit.waitForClosed(TYPE, windows, 90_000);
assert.ok(closedWithout.every((m) => m.status === 'incomplete' && m.lostEvents > 0), 'closed incomplete, the events listed as lost');

// The fix: a worker again.
kit.restartWorker();
const tap = await tapTopic(kit, TYPE, 'redrive-undeliverable-tap');
const ENV = { HOURGLASS_BUCKET: kit.storage.location, HOURGLASS_WINDOW_S: String(WINDOW_S), PUBSUB_EMULATOR_HOST: kit.stack.pubsub.host, HOURGLASS_PROJECT: kit.stack.pubsub.projectId };
const hg = (args: string[]) => runHourglass(['redrive', ...args], ENV, 120_000);

describe('hourglass-events redrive of undeliverable messages (Pub/Sub Cloud Storage subscription files)', () => {
  it('the files are in the archive format: fastavro reads back exactly the records written', async () => {
    const read = await readArchivesWithFastavro(keys.map((k) => path.join(kit.storage.root, k)));
    assert.deepEqual(read, [fileA, fileB].map((records) => records.map((r) => ({ ...r, data: r.data.toString('base64') }))));
  });

  it('--dry-run counts them and publishes nothing; a range with none selects none', async () => {
    const r = await hg(['--source', 'undeliverable', '--dry-run']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${TYPE}\\s+undeliverable\\s+${distinctIds}\\s+1\\s+0\\s+0$`, 'm'), 'the record written twice counts once');
    const future = await hg(['--since', '2099-01-01T00:00:00Z']);
    assert.equal(future.code, 0, future.stderr);
    assert.match(future.stdout, /^no dead letters match at /);
    assert.equal((await tap.drain()).length, 0);
  });

  it('republishes each message with its own data and attributes (without Pub/Sub\'s dead-letter attributes), and every event lands exactly once, in the late area', async () => {
    const r = await hg(['--type', TYPE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${distinctIds} dead letter\\(s\\) redriven; 1 already redriven, 0 skipped, 0 failed$`, 'm'));
    const published = (await tap.drain()).map((m) => messageKey(m.data, m.attributes)).sort();
    // Every original message, and the one dead-lettered twice a second time.
    assert.deepEqual(published, [...original, original[0]!].map((m) => messageKey(m.data, m.attributes)).sort());
    assertExactlyOnce(await waitForLanded(kit, TYPE, publisher.id, EVENTS), EVENTS);
    const { closed, late } = await landedRecords(kit.storage, TYPE);
    assert.deepEqual([closed.filter((x) => x.publisher === publisher.id).length, late.filter((x) => x.publisher === publisher.id).length], [0, EVENTS], 'all in the late area, since their windows had closed');
    for (const key of keys) {
      assert.ok(await kit.storage.stat(key), 'the archive file is kept');
      assert.ok(await kit.storage.stat(`${layout.deadletterRedriven(TYPE)}${key.slice(layout.deadletterType(TYPE).length)}/_COMPLETE`), `${key} is marked complete`);
    }
  });

  it('--delete removes an archive file once every message in it is marked; redriving what already landed adds nothing', async () => {
    // The first three messages dead-lettered once more (Pub/Sub promises dead-lettering at least once).
    const again = original.slice(0, 3).map((m, i) => archived(m, `93${i}`, i));
    const key = `${layout.deadletterUndeliverable(TYPE)}2026-11-22T21:10:00+00:00_c3.avro`;
    await kit.storage.createOnly(key, await encodeArchive(again, 'snappy'));
    const stagedBefore = kit.worker.stats().stagedMessages;
    const r = await hg(['--type', TYPE, '--delete']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^3 dead letter\\(s\\) redriven; ${distinctIds} already redriven, 0 skipped, 0 failed$`, 'm'));
    assert.equal((await tap.drain()).length, 3);
    assert.equal(await kit.storage.stat(key), undefined, 'deleted once every message in it was marked');
    assert.ok(await kit.storage.stat(`${layout.deadletterRedriven(TYPE)}${key.slice(layout.deadletterType(TYPE).length)}/_COMPLETE`));
    for (const k of keys) assert.ok(await kit.storage.stat(k), 'files this run did not redrive are kept');
    await waitUntil('the copies staged', async () => kit.worker.stats().stagedMessages >= stagedBefore + 3, 60_000);
    assertExactlyOnce(await waitForLanded(kit, TYPE, publisher.id, EVENTS), EVENTS);
  });

  it('on gs:// (fake-gcs-server) the same archives are read through ranged reads, redriven once and marked; the copies land nowhere twice', async () => {
    const gcs = await startFakeGcsServer();
    after(() => gcs.stop());
    await gcs.createBucket('hg-redrive');
    const remote = new GcsBucketStorage({ bucket: 'hg-redrive', prefix: 'lake', apiEndpoint: gcs.endpoint, projectId: 'hourglass-local' });
    after(() => remote.close());
    await remote.createOnly(keys[0]!, await encodeArchive(fileA, 'null'));
    await remote.createOnly(keys[1]!, await encodeArchive(fileB, 'deflate', 512));
    const onGcs = (args: string[]) => runHourglass(['-l', 'gs://hg-redrive/lake', 'redrive', ...args], { ...ENV, HOURGLASS_GCS_ENDPOINT: gcs.endpoint }, 120_000);
    const stagedBefore = kit.worker.stats().stagedMessages;
    const r = await onGcs(['--type', TYPE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${distinctIds} dead letter\\(s\\) redriven; 1 already redriven, 0 skipped, 0 failed$`, 'm'));
    assert.equal((await tap.drain()).length, original.length + 1);
    const markers = (await remote.list(layout.deadletterRedriven(TYPE))).map((o) => o.key);
    assert.equal(markers.length, distinctIds + keys.length, 'a marker per message, and one per complete file');
    const again = await onGcs(['--type', TYPE]);
    assert.match(again.stdout, new RegExp(`^0 dead letter\\(s\\) redriven; ${distinctIds} already redriven, 0 skipped, 0 failed$`, 'm'));
    assert.equal((await tap.drain()).length, 0);
    await waitUntil('the copies staged', async () => kit.worker.stats().stagedMessages >= stagedBefore + original.length + 1, 60_000);
    assertExactlyOnce(await waitForLanded(kit, TYPE, publisher.id, EVENTS), EVENTS);
  });

  it('a second redrive publishes nothing and reads no archive again', async () => {
    // Were the files read, this would be refused as unreadable: the completion markers say there is nothing in them to do.
    for (const key of keys) await kit.storage.put(key, 'not avro any more');
    const r = await hg(['--type', TYPE, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, number>;
    // The deleted file is gone from the area (its markers stay, for audit): the two kept files count.
    assert.deepEqual([json.redriven, json.already, json.skipped, json.failed], [0, distinctIds, 0, 0]);
    assert.equal((await tap.drain()).length, 0);
  });
});
