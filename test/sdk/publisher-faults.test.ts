// SDK under faults: Pub/Sub cut off and restored (a loopback proxy), a deadline that passes, and a publisher killed with SIGKILL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { emulatorClient, startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const killedPublisher = new URL('../fixtures/publisher-process.ts', import.meta.url).pathname;

describe('publisher SDK under faults', () => {
  let registry: Registry;
  let stack: LocalStack;
  let proxy: TcpProxy;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    proxy = await startTcpProxy(stack.pubsub.host);
  });
  after(async () => {
    await proxy.close();
    await stack.stop();
  });

  /** Every (publisher, seq) of track_played in the topic now. */
  const seqsInTopic = async () => {
    const seen = new Set<string>();
    for (const m of await drainSubscription(stack.client, stack.names.workerSubscription('track_played'))) {
      for (const r of decodeBatch(registry, m.data, m.attributes).records) seen.add(`${r.publisher}/${r.seq}`);
    }
    return seen;
  };

  it('resolves nothing while Pub/Sub is unreachable, retries, and delivers every resolved event once it is back', async () => {
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, lingerMs: 2, maxBatchEvents: 20, attemptTimeoutMs: 1000, initialBackoffMs: 50, maxBackoffMs: 300 });
    const resolvedSeqs: number[] = [];
    const publishRange = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) => publisher.publish('track_played', trackPlayed(from + k)).then(() => resolvedSeqs.push(from + k)));
    await Promise.all(publishRange(0, 200));
    assert.equal(resolvedSeqs.length, 200);

    proxy.cut();
    const during = publishRange(200, 400);
    await new Promise((r) => setTimeout(r, 2500));
    const resolvedWhileCut = resolvedSeqs.filter((s) => s >= 200);
    assert.deepEqual(resolvedWhileCut, [], 'no promise resolved while Pub/Sub was unreachable');
    assert.equal(publisher.isHealthy(), false, 'the publisher reports itself unhealthy while Pub/Sub is unreachable');
    assert.ok(publisher.stats().failedAttempts > 0, 'attempts failed and were retried');

    proxy.restore();
    await Promise.all(during);
    await publisher.close();
    await client.close();
    assert.equal(resolvedSeqs.length, 400);
    const inTopic = await seqsInTopic();
    for (const seq of resolvedSeqs) assert.ok(inTopic.has(`${publisher.id}/${seq}`), `resolved seq ${seq} is missing from the topic`);
  });

  it('stamps no event before Pub/Sub acknowledged its first heartbeat, so the checker can know of it before its events', async () => {
    proxy.cut();
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, lingerMs: 1, attemptTimeoutMs: 500, initialBackoffMs: 50, maxBackoffMs: 200 });
    try {
      const outcome = publisher.publish('track_played', trackPlayed(7));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(publisher.stats().acceptedEvents, 0, 'held, not accepted, while the first heartbeat cannot get through');
      const restoredUs = Date.now() * 1000;
      proxy.restore();
      await outcome;
      const records = (await drainSubscription(stack.client, stack.names.workerSubscription('track_played')))
        .flatMap((m) => decodeBatch(registry, m.data, m.attributes).records)
        .filter((r) => r.publisher === publisher.id);
      assert.equal(records.length, 1);
      assert.ok((records[0]!.receive_time as number) >= restoredUs, 'stamped once the heartbeat was acknowledged, not when publish() was called');
    } finally {
      proxy.restore();
      await publisher.close().catch(() => undefined);
      await client.close();
    }
  });

  it('a publisher whose first heartbeat is never acknowledged refuses its events with a typed, retryable error at the deadline', async () => {
    proxy.cut();
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, lingerMs: 1, publishDeadlineMs: 1500, attemptTimeoutMs: 500, initialBackoffMs: 50, maxBackoffMs: 200 });
    try {
      await assert.rejects(publisher.publish('track_played', trackPlayed(1)), (e) => {
        assert.ok(hasCode(e, 'HG_PUBSUB_UNAVAILABLE'));
        assert.equal(e.retryable, true);
        assert.match(e.message, /did not accept this publisher's first heartbeat \(to hourglass-control\) within 1500 ms/);
        return true;
      });
      assert.equal(publisher.stats().acceptedEvents, 0);
    } finally {
      proxy.restore();
      await publisher.close().catch(() => undefined);
      await client.close();
    }
  });

  it('rejects with a typed, retryable error once the deadline passes', async () => {
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, lingerMs: 1, publishDeadlineMs: 1500, attemptTimeoutMs: 500, initialBackoffMs: 50, maxBackoffMs: 200 });
    await publisher.publish('track_played', trackPlayed(0)); // registered: its first heartbeat got through
    proxy.cut();
    try {
      await assert.rejects(publisher.publish('track_played', trackPlayed(1)), (e) => {
        assert.ok(hasCode(e, 'HG_PUBSUB_UNAVAILABLE'));
        assert.equal(e.retryable, true);
        assert.match(e.message, /did not accept the message to hourglass-track_played within 1500 ms/);
        return true;
      });
      assert.equal(publisher.stats().failedEvents, 1);
      assert.equal(publisher.stats().acknowledgedEvents, 1);
    } finally {
      proxy.restore();
      await publisher.close().catch(() => undefined);
      await client.close();
    }
  });

  it('a publisher killed with SIGKILL mid-stream: every event whose promise had resolved is in the topic', async () => {
    const child = spawn(process.execPath, [killedPublisher, stack.pubsub.host, stack.pubsub.projectId], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
    });
    const resolved: number[] = [];
    let publisherId = '';
    const lines = createInterface({ input: child.stdout });
    const killed = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        if (line.startsWith('publisher ')) publisherId = line.slice('publisher '.length);
        else if (line.startsWith('ok ')) resolved.push(Number(line.slice(3)));
        if (resolved.length >= 3000 && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await killed;
    await new Promise((r) => child.once('exit', r));
    assert.ok(publisherId);
    const inTopic = await seqsInTopic();
    const missing = resolved.filter((seq) => !inTopic.has(`${publisherId}/${seq}`));
    assert.deepEqual(missing, [], 'every resolved event is in the topic');
  });
});
