// The worker process (services/worker/main.ts) on SIGTERM with messages in flight and a slow storage: it exits inside Cloud Run's 10 s
// (SIGKILL comes 10 s after SIGTERM) with its default budget, and loses nothing: what it could not write in time is nacked and staged
// by the worker that comes next.
//
// Storage is fake-gcs-server behind a TCP proxy the test blackholes (bytes held, nothing answered): a storage too slow for any deadline,
// or, restored a moment later, one that is only slow. The measured times are printed; the deadline asserted is the product's promise.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
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
import { startResetProxy } from '../fixtures/worker-reset-proxy.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices, type LogLine, type ServiceProcess } from '../helpers/service-process.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { sampleSum } from '../telemetry/prometheus-text.ts';

const BUCKET = 'hg-worker-shutdown';
/** Cloud Run sends SIGKILL this long after SIGTERM: the process must be gone before (ms). */
const CLOUD_RUN_GRACE_MS = 10_000;
/** A cap so a broken run ends; nothing is asserted about it. */
const WAIT_MS = 90_000;
/** A process still running this long after SIGTERM is killed (so a broken shutdown fails the test instead of hanging it). */
const EXIT_CAP_MS = 60_000;

describe('worker process: SIGTERM with messages in flight and a slow storage', () => {
  let registry: Registry;
  let stack: LocalStack;
  const clients: PubSub[] = [];
  const proxies: TcpProxy[] = [];
  const storages: Storage[] = [];
  const publishers: Publisher[] = [];
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry, gcsBucket: BUCKET, ackDeadlineS: 10 });
  });
  after(async () => {
    stopAllServices();
    for (const p of publishers) await p.close().catch(() => undefined);
    for (const p of proxies) await p.close();
    for (const st of storages) await st.close();
    for (const c of clients) await c.close().catch(() => undefined);
    await stack?.stop();
  });

  /** Fresh topics, a location of its own, the worker's storage link through a proxy the test can cut, and a publisher. */
  const setUp = async () => {
    const prefix = `s${randomBytes(4).toString('hex')}-`;
    await provisionTopics(stack.client, registry, topicNames(prefix), { ackDeadlineS: 10 });
    const location = `gs://${BUCKET}/${prefix.slice(0, -1)}`;
    const gcsEndpoint = stack.gcs!.endpoint;
    const storageLink = await startTcpProxy(new URL(gcsEndpoint).host);
    proxies.push(storageLink);
    // Workers reach the emulator through a proxy that resets their connections when they exit (see worker-reset-proxy.ts).
    const pubsubLink = await startResetProxy(stack.pubsub.host);
    const env = (endpoint: string) => ({
      PUBSUB_EMULATOR_HOST: pubsubLink.address,
      HOURGLASS_PROJECT: stack.pubsub.projectId,
      HOURGLASS_BUCKET: location,
      HOURGLASS_GCS_ENDPOINT: endpoint,
      HOURGLASS_TOPIC_PREFIX: prefix,
      HOURGLASS_TYPES: 'track_played',
      HOURGLASS_WORKER_MAX_FILE_AGE_MS: '200',
      HOURGLASS_OPS_PORT: '0',
      // No HOURGLASS_SHUTDOWN_TIMEOUT_MS: the default budget is what is tested.
    });
    const pubsub = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
    clients.push(pubsub);
    const publisher = new Publisher({ registry, pubsub, topicPrefix: prefix, maxBatchEvents: 50, lingerMs: 5 });
    publishers.push(publisher);
    let published = 0;
    /** Publishes `n` more events and resolves once Pub/Sub has them all. */
    const publish = async (n: number) => {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < n; i++) pending.push(publisher.publish('track_played', trackPlayed(published++)));
      await Promise.all(pending);
    };
    const storage = await openStorage(location, { gcsEndpoint });
    storages.push(storage);
    return { env, storageLink, publisher, publish, published: () => published, storage, directEndpoint: gcsEndpoint, proxiedEndpoint: `http://${storageLink.address}` };
  };

  const scrape = async (ops: string) => (await fetch(`${ops}/metrics`)).text();

  /** Starts a worker and waits until it pulls; returns its ops URL and id. */
  const startWorker = async (env: Record<string, string>): Promise<{ worker: ServiceProcess; ops: string; id: string }> => {
    const worker = startService('services/worker/main.ts', env);
    const started = await worker.line('worker_started');
    return { worker, ops: String(started.ops), id: String(started.worker) };
  };

  /** SIGTERM; the exit code, the wall time from the signal to the exit, and the worker's own account of its shutdown. */
  const sigterm = async (t: TestContext, what: string, worker: ServiceProcess, meanwhile: () => Promise<void> = async () => undefined) => {
    const t0 = performance.now();
    const exited = worker.stop();
    await meanwhile();
    let cap: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'killed'>((resolve) => (cap = setTimeout(() => resolve('killed'), EXIT_CAP_MS)))]);
    clearTimeout(cap);
    if (code === 'killed') stopAllServices();
    const elapsedMs = performance.now() - t0;
    const outcome: LogLine | undefined = worker.lines.find((l) => l.event === 'shutdown_finished');
    t.diagnostic(`${what}: SIGTERM → exit ${code} in ${Math.round(elapsedMs)} ms (its own account: ${JSON.stringify(outcome && { tookMs: outcome.tookMs, finished: outcome.finished, abandoned: outcome.abandoned, abandonedMessages: outcome.abandonedMessages, abandonedWrites: outcome.abandonedWrites })})`);
    return { code, elapsedMs, outcome };
  };

  /** Seqs of `publisher` listed in staging manifests, and by which worker. */
  const stagedSeqs = async (storage: Storage, publisher: string): Promise<{ seqs: Set<number>; byWorker: Map<string, number> }> => {
    const keys = (await storage.list('staging/')).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX)).map((o) => o.key);
    const manifests: StagingManifest[] = await Promise.all(keys.map(async (k) => parseStagingManifest(k, await storage.get(k))));
    const seqs = new Set<number>();
    const byWorker = new Map<string, number>();
    for (const m of manifests) {
      for (const msg of m.messages) {
        if (msg.publisher !== publisher) continue;
        for (let s = msg.firstSeq; s < msg.firstSeq + msg.count; s++) seqs.add(s);
        byWorker.set(m.worker, (byWorker.get(m.worker) ?? 0) + msg.count);
      }
    }
    return { seqs, byWorker };
  };

  /** Publishes a first lot and waits until the worker staged it (the storage link works), then cuts storage and publishes a second lot, held in flight. */
  const busyWithStorageCut = async (rig: Awaited<ReturnType<typeof setUp>>, ops: string) => {
    await rig.publish(200);
    await waitUntil('the first lot to be staged', async () => sampleSum(await scrape(ops), 'hourglass_worker_events_staged_total') >= 200, WAIT_MS, 100);
    rig.storageLink.cut('blackhole');
    await rig.publish(1000);
    await waitUntil(
      'the worker to hold messages with writes in flight',
      async () => {
        const text = await scrape(ops);
        return sampleSum(text, 'hourglass_worker_writes_in_flight') >= 1 && sampleSum(text, 'hourglass_worker_held_messages') >= 1;
      },
      WAIT_MS,
      50,
    );
  };

  it('a storage that does not answer: exits 1 within 10 s, having nacked what it could not write; a second worker stages every event', async (t) => {
    const rig = await setUp();
    const first = await startWorker(rig.env(rig.proxiedEndpoint));
    await busyWithStorageCut(rig, first.ops);

    const stop = await sigterm(t, 'worker, storage not answering', first.worker);
    assert.ok(stop.elapsedMs < CLOUD_RUN_GRACE_MS, `exited ${Math.round(stop.elapsedMs)} ms after SIGTERM: Cloud Run would have killed it at ${CLOUD_RUN_GRACE_MS} ms`);
    assert.equal(stop.code, 1, `exit code 1: writes abandoned (stderr: ${first.worker.stderr()})`);
    assert.ok(stop.outcome, 'one shutdown_finished line');
    assert.equal(stop.outcome.budgetMs, 9000, 'the default budget');
    assert.deepEqual(stop.outcome.abandoned, ['writes'], 'only the writes were cut short; the subscriptions and the clients closed in time');
    assert.ok(Number(stop.outcome.abandonedMessages) >= 1, 'the messages it could not write were handed back');
    rig.storageLink.cut('refuse'); // nothing it sent lands late

    // Nothing acked is lost: every published event is staged, by the first worker before the cut or by the second from redeliveries.
    const second = await startWorker(rig.env(rig.directEndpoint));
    const total = rig.published();
    await waitUntil(`all ${total} events in staging manifests`, async () => (await stagedSeqs(rig.storage, rig.publisher.id)).seqs.size >= total, WAIT_MS, 250);
    const staged = await stagedSeqs(rig.storage, rig.publisher.id);
    for (let seq = 0; seq < total; seq++) assert.ok(staged.seqs.has(seq), `seq ${seq} staged`);
    assert.ok((staged.byWorker.get(first.id) ?? 0) >= 200, 'the first worker staged the first lot');
    assert.ok((staged.byWorker.get(second.id) ?? 0) >= 1, 'the second worker staged what the first handed back');

    const clean = await sigterm(t, 'second worker, idle', second.worker);
    assert.equal(clean.code, 0, second.worker.stderr());
    assert.ok(clean.elapsedMs < CLOUD_RUN_GRACE_MS);
    assert.deepEqual(clean.outcome?.abandoned, []);
  });

  it('a storage that is slow but answers within the budget: writes, acks, exits 0 within 10 s; everything staged by that worker', async (t) => {
    const rig = await setUp();
    const first = await startWorker(rig.env(rig.proxiedEndpoint));
    await busyWithStorageCut(rig, first.ops);

    // The storage answers again 1.5 s after the worker starts stopping (well inside its writes deadline).
    const stop = await sigterm(t, 'worker, storage slow', first.worker, async () => {
      await first.worker.line('stopping');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      rig.storageLink.restore();
    });
    assert.ok(stop.elapsedMs < CLOUD_RUN_GRACE_MS, `exited ${Math.round(stop.elapsedMs)} ms after SIGTERM: Cloud Run would have killed it at ${CLOUD_RUN_GRACE_MS} ms`);
    assert.equal(stop.code, 0, `exit code 0 (stderr: ${first.worker.stderr()})`);
    assert.deepEqual(stop.outcome?.abandoned, []);
    assert.equal(stop.outcome?.abandonedMessages, 0);

    const total = rig.published();
    const staged = await stagedSeqs(rig.storage, rig.publisher.id);
    for (let seq = 0; seq < total; seq++) assert.ok(staged.seqs.has(seq), `seq ${seq} staged`);
    assert.deepEqual([...staged.byWorker.keys()], [first.id], 'all by the worker that was stopped');
  });
});
