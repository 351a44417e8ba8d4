// Unit tests of staging groups (one block per message, byte ranges in the manifest) and the staging writer (create-only file, then manifest, retried).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Registry } from '../../services/registry/registry.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { manifestKeyOf, parseStagingManifest } from '../../services/storage/staging-manifest.ts';
import type { Storage } from '../../services/storage/storage.ts';
import type { Clock } from '../../services/time/clock.ts';
import { MessageValidator, type AcceptedMessage } from '../../services/worker/message-validator.ts';
import { StagingGroup, type SealedStagingFile } from '../../services/worker/staging-group.ts';
import { StagingWriter } from '../../services/worker/staging-writer.ts';
import { backoffMs } from '../../services/worker/write-retry.ts';
import { FlakyStorage } from '../fixtures/worker-flaky-storage.ts';
import { buildBatch, fakeInbound, type BuiltBatch } from '../fixtures/worker-messages.ts';
import { readStaging, seqCounts } from '../fixtures/worker-staging.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const clock: Clock = { nowUs: () => Date.UTC(2026, 10, 22, 12, 30) * 1000 };
const FAST_RETRY = { initialBackoffMs: 1, maxBackoffMs: 5 };

describe('staging group and staging writer', () => {
  let registry: Registry;
  let validator: MessageValidator;
  before(async () => {
    registry = await Registry.load();
    validator = new MessageValidator(registry, { windowLengthS: 3600, maxBlockBytes: 1 << 24, codec: undefined });
  });

  const accept = (b: BuiltBatch): AcceptedMessage => {
    const v = validator.validate('track_played', b.data, b.attributes);
    assert.ok(v.ok);
    return v;
  };

  /** A sealed file of `messages` batches of 25 events from two publishers. */
  const sealedFile = (messages = 4): SealedStagingFile => {
    const first = accept(buildBatch(registry, { count: 25 }));
    const group = new StagingGroup({ type: 'track_played', window: first.attributes.window, version: 2, codec: 'deflate' }, first.schema.deliveredSchemaJson, 3600, clock.nowUs());
    for (let i = 0; i < messages; i++) {
      const b = buildBatch(registry, { publisher: i % 2 === 0 ? 'pub-a' : 'pub-b', firstSeq: Math.floor(i / 2) * 25, count: 25 });
      group.add(fakeInbound(b.data, b.attributes, 'track_played'), accept(b));
    }
    return group.seal();
  };

  const storageIn = async (): Promise<Storage> => openStorage(await tempDir('hg-worker-stage-'));

  it('a group writes one block per message and a manifest that names each block\'s byte range', async () => {
    const storage = await storageIn();
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 1000, workerId: 'w1' }, () => assert.fail('no retry expected'));
    const file = sealedFile(4);
    const outcome = await writer.write(file);
    assert.ok(outcome.ok);
    assert.match(outcome.key, /^staging\/track_played\/20261122T120000Z\/w1-[0-9a-f]{8}-000000-v2\.avro$/);
    assert.equal(outcome.manifestKey, manifestKeyOf(outcome.key));
    const manifest = parseStagingManifest(outcome.manifestKey, await storage.get(outcome.manifestKey));
    assert.equal(manifest.events, 100);
    assert.equal(manifest.worker, 'w1');
    assert.equal(manifest.writtenAtUs, clock.nowUs());
    assert.deepEqual(manifest.messages.map((m) => [m.publisher, m.firstSeq, m.count]), [['pub-a', 0, 25], ['pub-b', 0, 25], ['pub-a', 25, 25], ['pub-b', 25, 25]]);
    // Each range read alone is exactly one block.
    for (const m of manifest.messages) {
      const block = await storage.getRange(manifest.file, m.offset, m.offset + m.length);
      assert.equal(block.length, m.length);
    }
    const staged = await readStaging(storage, registry);
    assert.equal(staged.records.length, 100);
    assert.equal(seqCounts(staged.records, 'track_played').size, 100);
    assert.deepEqual(staged.orphans, []);
  });

  it('W01 the file write fails twice, then succeeds: retried, one file, one manifest', async () => {
    const storage = new FlakyStorage(await storageIn());
    let retries = 0;
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 10_000, workerId: 'w1' }, () => retries++);
    storage.failWrites(2, 'before', (key) => key.endsWith('.avro'));
    const outcome = await writer.write(sealedFile());
    assert.ok(outcome.ok);
    assert.equal(retries, 2);
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1);
    assert.equal(staged.records.length, 100);
  });

  it('W02 the manifest write fails once: retried; the file was not written twice', async () => {
    const storage = new FlakyStorage(await storageIn());
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 10_000, workerId: 'w1' }, () => undefined);
    storage.failWrites(1, 'before', (key) => key.endsWith('.manifest.json'));
    assert.ok((await writer.write(sealedFile())).ok);
    assert.equal(storage.failures, 1, 'the manifest write failed once');
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1);
    assert.deepEqual(staged.orphans, []);
  });

  it('a restarted worker with the same id never reuses a name, even one a close has removed (a late file must not pass for one a closed window holds)', async () => {
    const storage = await storageIn();
    const options = { ...FAST_RETRY, deadlineMs: 1000, workerId: 'pinned-worker' };
    const first = await new StagingWriter(storage, clock, options, () => undefined).write(sealedFile());
    assert.ok(first.ok);
    // The window closes: the checker removes its staging, file then manifest.
    await storage.delete(first.key);
    await storage.delete(first.manifestKey);
    const restarted = await new StagingWriter(storage, clock, options, () => undefined).write(sealedFile());
    assert.ok(restarted.ok);
    assert.notEqual(restarted.key, first.key);
  });

  it('W03 a write that lands but reports failure is recognised on retry, not duplicated', async () => {
    const storage = new FlakyStorage(await storageIn());
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 10_000, workerId: 'w1' }, () => undefined);
    storage.failWrites(2, 'after');
    const outcome = await writer.write(sealedFile());
    assert.ok(outcome.ok);
    assert.equal(storage.failures, 2, 'two writes landed and reported a failure');
    assert.match(outcome.key, /w1-[0-9a-f]{8}-000000-v2\.avro$/, 'the same name was kept');
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 1);
    assert.deepEqual(staged.orphans, []);
  });

  it('W04 a name taken by another writer\'s file: the next name is used, the other file is untouched', async () => {
    const storage = await storageIn();
    const clashing = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 10_000, workerId: 'w1' }, () => undefined);
    const first = await clashing.write(sealedFile(2));
    assert.ok(first.ok);
    const before = await storage.get(first.key);
    // A second writer with the same id (a misconfiguration) starts counting from 0 again.
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 10_000, workerId: 'w1' }, () => undefined);
    const second = await writer.write(sealedFile(4));
    assert.ok(second.ok);
    assert.notEqual(second.key, first.key);
    assert.deepEqual(await storage.get(first.key), before);
    const staged = await readStaging(storage, registry);
    assert.equal(staged.manifests.length, 2);
    assert.equal(staged.records.length, 150);
  });

  it('W05 storage that keeps failing: gives up at the deadline with ok false, and no manifest exists', async () => {
    const storage = new FlakyStorage(await storageIn());
    const writer = new StagingWriter(storage, clock, { ...FAST_RETRY, deadlineMs: 50, workerId: 'w1' }, () => undefined);
    storage.failWrites(Infinity);
    const outcome = await writer.write(sealedFile());
    assert.equal(outcome.ok, false);
    assert.ok(storage.failures >= 2, 'it did retry');
    assert.deepEqual((await storage.list('staging/')).map((o) => o.key), []);
  });

  it('backoff doubles from the first delay up to the ceiling, with jitter in the upper half', () => {
    const policy = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    assert.equal(backoffMs(0, policy, () => 0), 50);
    assert.equal(backoffMs(0, policy, () => 1), 100);
    assert.equal(backoffMs(2, policy, () => 1), 400);
    assert.equal(backoffMs(10, policy, () => 1), 1000);
    assert.equal(backoffMs(10, policy, () => 0), 500);
  });
});
