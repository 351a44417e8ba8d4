// Publisher.close({ timeoutMs }) on the Pub/Sub emulator: a bounded shutdown that reports what Pub/Sub has not acknowledged, and drops nothing.
//
// "Acks never come" is a loopback proxy in front of the emulator, cut: in blackhole mode (connections
// open, no byte passes: a partition) or refuse mode (the emulator as if stopped). No assertion is on
// a duration: only on what close() reports and on what reaches the topic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode, type HourglassError } from '../../services/errors/catalogue.ts';
import { emulatorClient, startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher, type CloseTimeoutDetails } from '../../services/sdk/index.ts';
import { parseHeartbeat } from '../../services/wire/heartbeat.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

/** Publish promises with their outcome, observable without awaiting. */
function track(promises: Array<Promise<void>>): { settled: () => number; resolved: () => number; all: Promise<unknown> } {
  let settled = 0;
  let resolved = 0;
  const all = Promise.allSettled(
    promises.map((p) =>
      p.then(
        () => {
          settled++;
          resolved++;
        },
        (err: unknown) => {
          settled++;
          throw err;
        },
      ),
    ),
  );
  return { settled: () => settled, resolved: () => resolved, all };
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<HourglassError> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(outcome !== undefined, 'close() resolved; expected it to reject');
  return outcome as HourglassError;
}

describe('Publisher.close({ timeoutMs }) on the Pub/Sub emulator', () => {
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

  /** Seqs of `publisher` in a type's topic now. */
  const seqsInTopic = async (type: string, publisher: string) =>
    (await drainSubscription(stack.client, stack.names.workerSubscription(type)))
      .flatMap((m) => decodeBatch(registry, m.data, m.attributes).records)
      .filter((r) => r.publisher === publisher)
      .map((r) => r.seq as number)
      .sort((a, b) => a - b);
  const finalHeartbeat = async (publisher: string) =>
    (await drainSubscription(stack.client, stack.names.controlSubscription))
      .map((m) => parseHeartbeat(m.data))
      .flatMap((h) => (h.ok && h.value.publisher === publisher && h.value.final ? [h.value] : []))[0];
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('when Pub/Sub never answers, rejects with HG_CLOSE_TIMEOUT counting every unacknowledged event per type; once Pub/Sub answers, the same close delivers them all', async () => {
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, attemptTimeoutMs: 500, initialBackoffMs: 50, maxBackoffMs: 200 });
    try {
      await publisher.publish('track_played', trackPlayed(0)); // registered, and one event acknowledged
      proxy.cut('blackhole');
      const outcomes = track([
        ...range(30).map((i) => publisher.publish('track_played', trackPlayed(i + 1))),
        publisher.publishMany('search_performed', range(5).map((i) => ({ payload: searchPerformed(i) }))),
      ]);
      const err = await rejection(publisher.close({ timeoutMs: 400 }));
      assert.ok(hasCode(err, 'HG_CLOSE_TIMEOUT'), String(err));
      assert.equal(err.retryable, true);
      const details = err.details as CloseTimeoutDetails;
      assert.deepEqual(details.types, { track_played: 30, search_performed: 5 });
      assert.equal(details.unacknowledgedEvents, 35);
      assert.equal(details.finalHeartbeatSent, false);
      assert.equal(details.timeoutMs, 400);
      assert.ok(details.inFlightMessages >= 2, `${details.inFlightMessages} messages in flight`);
      assert.match(err.message, /close\(\) did not finish within 400 ms: 35 event\(s\) not acknowledged by Pub\/Sub \((track_played: 30, search_performed: 5|search_performed: 5, track_played: 30)\); treat them as not sent/);
      assert.equal(outcomes.settled(), 0, 'no publish promise settled while Pub/Sub did not answer');
      assert.equal(publisher.stats().acknowledgedEvents, 1);
      // Later publishes are refused: the publisher is closing.
      await assert.rejects(publisher.publish('track_played', trackPlayed(99)), (e) => hasCode(e, 'HG_PUBLISHER_CLOSED'));
      // A second bounded close reports the same, at once.
      const again = await rejection(publisher.close({ timeoutMs: 0 }));
      assert.ok(hasCode(again, 'HG_CLOSE_TIMEOUT'));
      assert.equal((again.details as CloseTimeoutDetails).unacknowledgedEvents, 35);

      proxy.restore();
      await publisher.close(); // the same close, which went on in the background
      await outcomes.all;
      assert.equal(outcomes.resolved(), 31, 'every publish promise resolved once Pub/Sub answered');
      assert.deepEqual(await seqsInTopic('track_played', publisher.id), range(31));
      assert.deepEqual(await seqsInTopic('search_performed', publisher.id), range(5));
      const final = await finalHeartbeat(publisher.id);
      assert.ok(final, 'the final heartbeat was sent once the close finished');
      assert.deepEqual(final.types.track_played, { nextSeq: 31, ackedBelow: 31 });
    } finally {
      proxy.restore();
      await publisher.close().catch(() => undefined);
      await client.close();
    }
  });

  it('counts the events held for the first heartbeat, with the emulator unreachable (refused) from the start', async () => {
    proxy.cut('refuse');
    const client = emulatorClient(proxy.address, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, attemptTimeoutMs: 300, initialBackoffMs: 50, maxBackoffMs: 200 });
    try {
      const outcomes = track([
        publisher.publish('track_played', trackPlayed(1)),
        publisher.publishMany('track_played', [{ payload: trackPlayed(2) }, { payload: trackPlayed(3) }]),
      ]);
      await new Promise((r) => setImmediate(r)); // publishMany validates, then waits
      const err = await rejection(publisher.close({ timeoutMs: 300 }));
      assert.ok(hasCode(err, 'HG_CLOSE_TIMEOUT'), String(err));
      assert.deepEqual((err.details as CloseTimeoutDetails).types, { track_played: 3 });
      assert.equal(publisher.stats().acceptedEvents, 0, 'held: not stamped before a heartbeat is acknowledged');
      assert.equal(outcomes.settled(), 0);
      proxy.restore();
      await publisher.close();
      await outcomes.all;
      assert.equal(outcomes.resolved(), 2);
      assert.deepEqual(await seqsInTopic('track_played', publisher.id), range(3));
    } finally {
      proxy.restore();
      await publisher.close().catch(() => undefined);
      await client.close();
    }
  });

  it('an immediate close (timeoutMs: 0) rejects at once with what was just published, and the close still delivers it', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client });
    await publisher.ready();
    const outcomes = track(range(100).map((i) => publisher.publish('track_played', trackPlayed(i))));
    const closing = publisher.close({ timeoutMs: 0 });
    // At once: settled within a few microtasks (no timer, no I/O in between), not merely soon.
    const fewMicrotasks = new Promise((r) => queueMicrotask(() => queueMicrotask(() => queueMicrotask(() => r('not yet')))));
    const first = await Promise.race([closing.then(() => 'resolved', () => 'rejected'), fewMicrotasks]);
    assert.equal(first, 'rejected');
    const err = await rejection(closing);
    assert.ok(hasCode(err, 'HG_CLOSE_TIMEOUT'), String(err));
    assert.deepEqual((err.details as CloseTimeoutDetails).types, { track_played: 100 });
    await publisher.close();
    await outcomes.all;
    assert.equal(outcomes.resolved(), 100);
    assert.deepEqual(await seqsInTopic('track_played', publisher.id), range(100));
  });

  it('a close that finishes within its timeout resolves (and sends the final heartbeat); a bad timeout is refused without closing', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client });
    await publisher.publish('search_performed', searchPerformed(1));
    for (const bad of [-1, Number.NaN, Infinity]) {
      await assert.rejects(publisher.close({ timeoutMs: bad }), (e) => hasCode(e, 'HG_CONFIG_INVALID') && /timeoutMs/.test(e.message));
    }
    await publisher.publish('search_performed', searchPerformed(2)); // still open
    await publisher.close({ timeoutMs: 60_000 });
    await publisher.close({ timeoutMs: 0 }); // already closed: nothing left to wait for
    const final = await finalHeartbeat(publisher.id);
    assert.ok(final);
    assert.deepEqual(final.types.search_performed, { nextSeq: 2, ackedBelow: 2 });
    await seqsInTopic('search_performed', publisher.id);
  });
});
