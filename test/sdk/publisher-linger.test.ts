// The default (adaptive) linger inside a real Publisher on the Pub/Sub emulator: a type arriving steadily fills its messages, an explicit lingerMs keeps its fixed linger.
//
// The policy itself is tested in virtual time (adaptive-linger.test.ts); this checks that the Publisher
// feeds it (the opening tick's mark, each sealed batch's observation) and follows it. It asserts event
// counts per message, never a duration: the margins hold on a loaded machine, whose late timers only
// make batches larger.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher, type PublisherOptions } from '../../services/sdk/index.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { trackPlayed } from '../helpers/sample-events.ts';

describe('Publisher linger on the Pub/Sub emulator', () => {
  let registry: Registry;
  let stack: LocalStack;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
  });
  after(() => stack.stop());

  /** Publishes one track_played every 10 ms for `ms` (a steady 100/s, from a timer); returns the events per message after the first second. */
  const steady = async (options: Partial<PublisherOptions>, ms: number): Promise<{ sizes: number[]; events: number }> => {
    const publisher = new Publisher({ registry, pubsub: stack.client, ...options });
    await publisher.ready();
    const startUs = Date.now() * 1000;
    const pending: Array<Promise<void>> = [];
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        pending.push(publisher.publish('track_played', trackPlayed(pending.length)));
        if (Date.now() * 1000 - startUs >= ms * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    await Promise.all(pending);
    await publisher.close();
    const batches = (await drainSubscription(stack.client, stack.names.workerSubscription('track_played')))
      .map((m) => decodeBatch(registry, m.data, m.attributes))
      .filter((b) => b.attributes.publisher === publisher.id);
    assert.equal(batches.reduce((n, b) => n + b.attributes.count, 0), pending.length, 'every event was sent once');
    const sizes = batches.filter((b) => b.attributes.minReceiveUs >= startUs + 1_000_000).map((b) => b.attributes.count);
    return { sizes, events: pending.length };
  };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('by default, a type arriving at 100/s waits for its messages to fill (~26 events within the 250 ms budget)', async () => {
    const { sizes } = await steady({}, 4000);
    assert.ok(sizes.length > 0);
    // A 20 ms linger would send ~3 events per message; the budget allows 26.
    assert.ok(mean(sizes) >= 8, `${mean(sizes).toFixed(1)} events per message (${sizes.join(' ')})`);
    assert.ok(Math.max(...sizes) <= 40, `a message of ${Math.max(...sizes)} events: more than 250 ms of arrivals at 100/s`);
  });

  it('with an explicit lingerMs, the linger stays fixed (0: each event goes out on the next timer tick)', async () => {
    const { sizes } = await steady({ lingerMs: 0 }, 2000);
    assert.ok(mean(sizes) < 4, `${mean(sizes).toFixed(1)} events per message with lingerMs 0`);
  });
});
