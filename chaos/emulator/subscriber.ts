// The subscriber process of the emulator experiment: pulls numbered messages, holds each a while before acking, and traces every step to a file that survives SIGKILL.
//
// Run by chaos/emulator-redelivery.ts, never by hand. Each trace line is one JSON event, appended
// synchronously so a SIGKILL loses none that happened:
//   arrive   the client library received the message from the emulator (it enters flow control)
//   dispatch the library handed it to the application
//   ack      the application called ack()
//   nack     the application (or a close) handed it back
//   ack-rpc / ack-rpc-ok / ack-rpc-failed   an Acknowledge call carrying these ack ids, and its outcome
// `n` is the message's number, `a` the emulator's ack id counter (the part after the last ':').
// Signals: SIGTERM closes the subscription with --close-behavior (nack: held messages are nacked;
// wait: they are acked first) and exits; SIGINT acks everything held, closes and exits (the clean
// end of a run); SIGUSR2 acks everything held and SIGKILLs itself --die-after-ms later (acks in
// flight). A plain SIGKILL from outside is the worker's real fault.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Duration, v1, type Message } from '@google-cloud/pubsub';
import { emulatorClient } from '../../services/local-stack/local-stack.ts';
import { ackCounter, numberOf, unaryClient } from './numbered-messages.ts';

const { values: o } = parseArgs({
  options: {
    host: { type: 'string' },
    project: { type: 'string' },
    subscription: { type: 'string' },
    trace: { type: 'string' },
    pull: { type: 'string', default: 'streaming' },
    'max-messages': { type: 'string', default: '100' },
    'max-streams': { type: 'string', default: '1' },
    'hold-ms': { type: 'string', default: '2000' },
    'close-behavior': { type: 'string', default: 'nack' },
    'die-after-ms': { type: 'string', default: '0' },
    'stream-deadline-s': { type: 'string' },
  },
});
const host = o.host!;
const traceFile = o.trace!;
const holdMs = Number(o['hold-ms']);
const maxMessages = Number(o['max-messages']);
const trace = (e: string, fields: Record<string, unknown> = {}) => appendFileSync(traceFile, `${JSON.stringify({ t: Date.now(), e, ...fields })}\n`);

// The library's internals are patched only to observe them (and, on request, to shorten the
// StreamingPull deadline): nothing they do is changed otherwise.
const require = createRequire(import.meta.url);
const { LeaseManager } = require('@google-cloud/pubsub/build/src/lease-manager.js');
const { MessageStream } = require('@google-cloud/pubsub/build/src/message-stream.js');
const leaseAdd = LeaseManager.prototype.add;
LeaseManager.prototype.add = function (this: unknown, m: Message) {
  trace('arrive', { n: numberOf(m.data), a: ackCounter(m.ackId) });
  return leaseAdd.call(this, m);
};
const acknowledge = v1.SubscriberClient.prototype.acknowledge as (this: unknown, request: { ackIds: string[] }, options?: unknown) => Promise<unknown>;
// @ts-expect-error: the observing wrapper keeps the arguments and the result, not the overloads
v1.SubscriberClient.prototype.acknowledge = async function (this: unknown, request: { ackIds: string[] }, options?: unknown) {
  const a = request.ackIds.map(ackCounter);
  trace('ack-rpc', { a });
  try {
    const result = await acknowledge.call(this, request, options);
    trace('ack-rpc-ok', { a });
    return result;
  } catch (err) {
    trace('ack-rpc-failed', { a, error: (err as Error).message });
    throw err;
  }
};
if (o['stream-deadline-s']) {
  // The library gives every StreamingPull a 30-minute gRPC deadline; a shorter one shows what the
  // emulator does when a stream it lost track of reaches its deadline.
  const deadlineMs = Number(o['stream-deadline-s']) * 1000;
  const getClient = MessageStream.prototype._getClient;
  MessageStream.prototype._getClient = async function (this: unknown) {
    const stub = await getClient.call(this);
    return new Proxy(stub, {
      get: (target, key) =>
        key === 'streamingPull' ? (opts: object) => target.streamingPull({ ...opts, deadline: Date.now() + deadlineMs }) : Reflect.get(target, key),
    });
  };
}

/** A delivered message the application has not settled yet. */
interface Held {
  readonly n: number;
  readonly a: number;
  readonly ack: () => void;
  readonly nack: () => void;
  readonly timer: NodeJS.Timeout;
}
const held = new Map<number, Held>();
const settle = (h: Held, how: 'ack' | 'nack') => {
  if (!held.delete(h.a)) return;
  clearTimeout(h.timer);
  trace(how, { n: h.n, a: h.a });
  if (how === 'ack') h.ack();
  else h.nack();
};
const deliver = (n: number, a: number, ack: () => void, nack: () => void) => {
  trace('dispatch', { n, a });
  const h: Held = { n, a, ack, nack, timer: setTimeout(() => settle(h, 'ack'), holdMs) };
  held.set(a, h);
};
const settleAll = (how: 'ack' | 'nack') => {
  for (const h of [...held.values()]) settle(h, how);
};

let close: (behavior: 'ack' | 'nack') => Promise<void>;
if (o.pull === 'unary') close = startUnary();
else close = startStreaming();
trace('start', { pid: process.pid, pull: o.pull });

process.once('SIGTERM', () => void close(o['close-behavior'] === 'wait' ? 'ack' : 'nack').then(() => process.exit(0)));
process.once('SIGINT', () => void close('ack').then(() => process.exit(0)));
process.once('SIGUSR2', () => {
  settleAll('ack');
  const die = () => process.kill(process.pid, 'SIGKILL');
  const afterMs = Number(o['die-after-ms']);
  if (afterMs === 0) setImmediate(die);
  else setTimeout(die, afterMs);
});

function startStreaming(): (behavior: 'ack' | 'nack') => Promise<void> {
  const client = emulatorClient(host, o.project!);
  const sub = client.subscription(o.subscription!, {
    flowControl: { maxMessages },
    streamingOptions: { maxStreams: Number(o['max-streams']) },
    closeOptions: { behavior: 'WAIT', timeout: Duration.from({ seconds: 5 }) },
  });
  sub.on('message', (m: Message) => deliver(numberOf(m.data), ackCounter(m.ackId), () => m.ack(), () => m.nack()));
  sub.on('error', (err: Error) => trace('stream-error', { error: err.message }));
  return async (behavior) => {
    // The application settles what it holds first (nack = hand back), then the library closes its
    // streams, which it does by half-closing them.
    settleAll(behavior);
    await sub.close();
    await client.close();
    trace('closed');
  };
}

function startUnary(): (behavior: 'ack' | 'nack') => Promise<void> {
  const client = unaryClient(host);
  const subscription = `projects/${o.project}/subscriptions/${o.subscription}`;
  let open = true;
  const loop = async () => {
    while (open) {
      if (held.size >= maxMessages) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      try {
        const [res] = await client.pull({ subscription, maxMessages: maxMessages - held.size, returnImmediately: false }, { timeout: 5_000 });
        for (const r of res.receivedMessages ?? []) {
          const n = numberOf(r.message!.data as Uint8Array);
          const ackId = r.ackId!;
          trace('arrive', { n, a: ackCounter(ackId) });
          deliver(
            n,
            ackCounter(ackId),
            () => void client.acknowledge({ subscription, ackIds: [ackId] }).catch(() => undefined),
            () => void client.modifyAckDeadline({ subscription, ackIds: [ackId], ackDeadlineSeconds: 0 }).catch(() => undefined),
          );
        }
      } catch (err) {
        trace('stream-error', { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const running = loop();
  return async (behavior) => {
    open = false;
    settleAll(behavior);
    await running;
    await new Promise((r) => setTimeout(r, 300)); // lets the last acknowledge calls leave
    await client.close();
    trace('closed');
  };
}
