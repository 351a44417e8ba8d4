// The checker process (services/checker/main.ts) on SIGTERM in the middle of a round whose storage call does not answer: it exits inside
// Cloud Run's 10 s (SIGKILL comes 10 s after SIGTERM) with its default budget, abandoning the round, and loses nothing: a heartbeat it
// had received but not saved was not acked, so the next checker gets it again from Pub/Sub and saves it.
//
// Storage is fake-gcs-server behind an HTTP proxy that records each request (so the test knows a round is waiting on storage), in front
// of a TCP proxy the test blackholes (bytes held, nothing answered). The measured times are printed; the deadline asserted is the
// product's promise.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { heartbeatSnapshotKey } from '../../services/checker/heartbeat-table.ts';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { provisionTopics } from '../../services/local-stack/provision.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { encodeHeartbeat } from '../../services/wire/heartbeat.ts';
import { topicNames } from '../../services/wire/topics.ts';
import { startResetProxy } from '../fixtures/worker-reset-proxy.ts';
import { startHttpFaultProxy } from '../helpers/http-fault-proxy.ts';
import { startService, stopAllServices, type LogLine, type ServiceProcess } from '../helpers/service-process.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { sampleSum } from '../telemetry/prometheus-text.ts';

const BUCKET = 'hg-checker-shutdown';
/** Cloud Run sends SIGKILL this long after SIGTERM: the process must be gone before (ms). */
const CLOUD_RUN_GRACE_MS = 10_000;
/** A cap so a broken run ends; nothing is asserted about it. */
const WAIT_MS = 90_000;
/** A process still running this long after SIGTERM is killed (so a broken shutdown fails the test instead of hanging it). */
const EXIT_CAP_MS = 60_000;

interface Snapshot {
  readonly publishers: ReadonlyArray<{ readonly id: string }>;
}

describe('checker process: SIGTERM mid-round, storage not answering', () => {
  let registry: Registry;
  let stack: LocalStack;
  const closers: Array<() => Promise<void>> = [];
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry, gcsBucket: BUCKET, ackDeadlineS: 10 });
  });
  after(async () => {
    stopAllServices();
    for (const close of closers) await close();
    await stack?.stop();
  });

  const snapshotPublishers = async (storage: Storage, checkerId: string): Promise<string[] | undefined> => {
    if (!(await storage.stat(heartbeatSnapshotKey(checkerId)))) return undefined;
    return (JSON.parse((await storage.get(heartbeatSnapshotKey(checkerId))).toString('utf8')) as Snapshot).publishers.map((p) => p.id);
  };

  /** SIGTERM; the exit code, the wall time from the signal to the exit, and the checker's own account of its shutdown. */
  const sigterm = async (t: TestContext, what: string, checker: ServiceProcess) => {
    const t0 = performance.now();
    let cap: NodeJS.Timeout | undefined;
    const code = await Promise.race([checker.stop(), new Promise<'killed'>((resolve) => (cap = setTimeout(() => resolve('killed'), EXIT_CAP_MS)))]);
    clearTimeout(cap);
    if (code === 'killed') stopAllServices();
    const elapsedMs = performance.now() - t0;
    const outcome: LogLine | undefined = checker.lines.find((l) => l.event === 'shutdown_finished');
    t.diagnostic(`${what}: SIGTERM → exit ${code} in ${Math.round(elapsedMs)} ms (its own account: ${JSON.stringify(outcome && { tookMs: outcome.tookMs, finished: outcome.finished, abandoned: outcome.abandoned })})`);
    return { code, elapsedMs, outcome };
  };

  it('exits 1 within 10 s, the round abandoned; the heartbeat it held unsaved comes back to the next checker, which saves it and exits 0', async (t) => {
    const prefix = `c${randomBytes(4).toString('hex')}-`;
    const names = topicNames(prefix);
    await provisionTopics(stack.client, registry, names, { ackDeadlineS: 10 });
    const location = `gs://${BUCKET}/${prefix.slice(0, -1)}`;
    const gcsEndpoint = stack.gcs!.endpoint;
    const storage = await openStorage(location, { gcsEndpoint });
    const storageLink = await startTcpProxy(new URL(gcsEndpoint).host);
    const recorder = await startHttpFaultProxy(`http://${storageLink.address}`);
    closers.push(() => recorder.close(), () => storageLink.close(), () => storage.close());
    // Checkers reach the emulator through a proxy that resets their connections when they exit (see worker-reset-proxy.ts).
    const pubsubLink = await startResetProxy(stack.pubsub.host);
    const env = (checkerId: string, endpoint: string) => ({
      PUBSUB_EMULATOR_HOST: pubsubLink.address,
      HOURGLASS_PROJECT: stack.pubsub.projectId,
      HOURGLASS_BUCKET: location,
      HOURGLASS_GCS_ENDPOINT: endpoint,
      HOURGLASS_TOPIC_PREFIX: prefix,
      HOURGLASS_CHECKER_ID: checkerId,
      HOURGLASS_CHECKER_TICK_MS: '200',
      HOURGLASS_OPS_PORT: '0',
      // No HOURGLASS_SHUTDOWN_TIMEOUT_MS: the default budget is what is tested.
    });

    const firstId = `${prefix}first`;
    const first = startService('services/checker/main.ts', env(firstId, recorder.endpoint));
    const ops = String((await first.line('checker_started')).ops);
    await waitUntil('the first checker to save a heartbeat snapshot (a round went through)', async () => (await snapshotPublishers(storage, firstId)) !== undefined, WAIT_MS, 100);

    storageLink.cut('blackhole');
    const requestsAtCut = recorder.requests.length;
    const nowUs = Date.now() * 1000;
    const publisher = `p-${randomBytes(4).toString('hex')}`;
    await stack.client.topic(names.controlTopic).publishMessage({
      data: encodeHeartbeat({ publisher, timeUs: nowUs, startedUs: nowUs - 1_000_000, final: false, windowS: 3600, types: {}, origin: 'test@checker-shutdown' }),
    });
    await waitUntil('the first checker to hold the heartbeat', async () => sampleSum(await (await fetch(`${ops}/metrics`)).text(), 'hourglass_checker_publishers_alive') >= 1, WAIT_MS, 50);
    await waitUntil('a round to wait on storage', async () => recorder.requests.length > requestsAtCut, WAIT_MS, 50);

    const stop = await sigterm(t, 'checker, mid-round, storage not answering', first);
    assert.ok(stop.elapsedMs < CLOUD_RUN_GRACE_MS, `exited ${Math.round(stop.elapsedMs)} ms after SIGTERM: Cloud Run would have killed it at ${CLOUD_RUN_GRACE_MS} ms`);
    assert.equal(stop.code, 1, `exit code 1: the round was abandoned (stderr: ${first.stderr()})`);
    assert.ok(stop.outcome, 'one shutdown_finished line');
    assert.equal(stop.outcome.budgetMs, 9000, 'the default budget');
    assert.ok((stop.outcome.abandoned as string[]).includes('checker'), 'the round in progress was abandoned');
    // Nothing it sent after the cut lands late.
    storageLink.cut('refuse');
    assert.ok(!(await snapshotPublishers(storage, firstId))?.includes(publisher), 'the first checker never saved the heartbeat');

    // Not saved, so not acked: Pub/Sub delivers it to the next checker, which saves it.
    const secondId = `${prefix}second`;
    const second = startService('services/checker/main.ts', env(secondId, gcsEndpoint));
    await second.line('checker_started');
    await waitUntil('the second checker to save the heartbeat', async () => (await snapshotPublishers(storage, secondId))?.includes(publisher) ?? false, WAIT_MS, 250);

    const clean = await sigterm(t, 'checker, idle', second);
    assert.ok(clean.elapsedMs < CLOUD_RUN_GRACE_MS);
    assert.equal(clean.code, 0, second.stderr());
    assert.deepEqual(clean.outcome?.abandoned, []);
  });
});
