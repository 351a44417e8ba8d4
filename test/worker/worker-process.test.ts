// Process-level tests: a worker process killed with SIGKILL mid-stream and restarted loses nothing and leaves no torn object; SIGTERM stops it cleanly (exit 0).
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
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../../services/storage/staging-manifest.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { topicNames } from '../../services/wire/topics.ts';
import { startWorkerProcess } from '../fixtures/worker-process.ts';
import { startResetProxy } from '../fixtures/worker-reset-proxy.ts';
import { readStaging, seqCounts } from '../fixtures/worker-staging.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const BUCKET = 'hg-worker-proc';
const WAIT_MS = 120_000;

describe('worker process: SIGKILL mid-stream, restart, SIGTERM', () => {
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

  /** A storage probe that does not answer in 10 s fails (and waitUntil tries again) rather than hanging the test. */
  const bounded = <T>(probe: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('storage probe took over 10 s')), 10_000)));
    return Promise.race([probe, timeout]).finally(() => clearTimeout(timer));
  };
  const manifestKeys = async (storage: Storage) => (await bounded(storage.list('staging/'))).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX));
  /** Every manifest under staging/, read without the full file checks (cheap enough to poll). */
  const manifests = async (storage: Storage): Promise<StagingManifest[]> =>
    bounded(Promise.all((await manifestKeys(storage)).map(async (o) => parseStagingManifest(o.key, await storage.get(o.key)))));
  /** Seqs of `publisher` that some manifest lists. */
  const seqsInManifests = (all: readonly StagingManifest[], publisher: string): Set<number> => {
    const out = new Set<number>();
    for (const m of all) for (const msg of m.messages) if (msg.publisher === publisher) for (let s = msg.firstSeq; s < msg.firstSeq + msg.count; s++) out.add(s);
    return out;
  };

  for (const backend of ['local', 'gcs'] as const) {
    it(`[${backend}] every published event is in staging after a SIGKILL and a restart; no manifest points at a missing or short file; no torn object`, async () => {
      const prefix = `k${randomBytes(4).toString('hex')}-`;
      await provisionTopics(stack.client, registry, topicNames(prefix), { ackDeadlineS: 10 });
      const location = backend === 'local' ? `file://${await tempDir('hg-worker-kill-')}` : `gs://${BUCKET}/${prefix.slice(0, -1)}`;
      const storage = await openStorage(location, { gcsEndpoint: stack.gcs!.endpoint });
      // Workers reach the emulator through a proxy that resets their connections when they die, or the
      // emulator would keep feeding the dead streams for tens of seconds (see worker-reset-proxy.ts).
      // Even so it sends some messages to streams that are gone (each then waits out an ack deadline);
      // the restarted worker opens many streams, so that most of them land on a live one.
      const proxy = await startResetProxy(stack.pubsub.host);
      const env = {
        PUBSUB_EMULATOR_HOST: proxy.address,
        HOURGLASS_PROJECT: stack.pubsub.projectId,
        HOURGLASS_BUCKET: location,
        HOURGLASS_GCS_ENDPOINT: stack.gcs!.endpoint,
        HOURGLASS_TOPIC_PREFIX: prefix,
        HOURGLASS_TYPES: 'track_played',
        HOURGLASS_WORKER_MAX_FILE_AGE_MS: '200',
      };

      const first = startWorkerProcess({ ...env, HOURGLASS_WORKER_STREAMS: '1' });
      const firstId = await first.ready;
      const pubsub = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
      clients.push(pubsub);
      const publisher = new Publisher({ registry, pubsub, topicPrefix: prefix, maxBatchEvents: 100, lingerMs: 5 });
      // Publish until told to stop, so the kill certainly lands mid-stream.
      let keepPublishing = true;
      let published = 0;
      const publishing = (async () => {
        const pending: Promise<void>[] = [];
        while (keepPublishing) {
          for (let i = 0; i < 100; i++) pending.push(publisher.publish('track_played', trackPlayed(published++)));
          await new Promise((r) => setTimeout(r, 10));
        }
        await Promise.all(pending);
        await publisher.close();
      })();

      await waitUntil('the first worker to stage some files', async () => (await manifestKeys(storage)).length >= 3, WAIT_MS, 100);
      await first.kill();
      const publishedAtKill = published;
      const second = startWorkerProcess({ ...env, HOURGLASS_WORKER_STREAMS: '8' });
      const secondId = await second.ready;
      await waitUntil('the second worker to stage files', async () => (await manifests(storage)).some((m) => m.worker === secondId), WAIT_MS, 250);
      keepPublishing = false;
      await publishing;
      assert.ok(published > publishedAtKill, 'events were published after the kill');

      // Messages the killed worker held come back once their ack deadline (10 s) passes.
      await waitUntil(`all ${published} events in staging manifests`, async () => seqsInManifests(await manifests(storage), publisher.id).size >= published, WAIT_MS, 500);
      // Exit 0 comes only after worker.stop() resolved (its worker_stopped line is on stdout, with the rest of the log).
      assert.equal(await second.stop(), 0, `graceful exit code 0; stderr:\n${second.stderr()}`);

      const staged = await readStaging(storage, registry); // checks every manifest against its file; parses every orphan whole
      const fromManifests = seqsInManifests(staged.manifests, publisher.id);
      const fromRecords = seqCounts(staged.records, 'track_played');
      for (let seq = 0; seq < published; seq++) {
        assert.ok(fromManifests.has(seq), `seq ${seq} listed in a manifest`);
        assert.ok(fromRecords.has(`${publisher.id}/${seq}`), `seq ${seq} present in a staging file`);
      }
      const workers = new Set(staged.manifests.map((m) => m.worker));
      assert.ok(workers.has(firstId) && workers.has(secondId), 'both incarnations staged files');
      await storage.close();
      await proxy.close();
    });
  }
});
