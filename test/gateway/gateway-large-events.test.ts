// Issue 12 §0 through the real gateway process: one request whose event overflows the SDK's batch buffer used to freeze the gateway's event loop for every client.
//
// The gateway runs as its own process (services/gateway/main.ts) against the Pub/Sub emulator, so a
// frozen gateway fails this test at its deadline instead of freezing the test runner with it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { onJsonLines } from '../helpers/json-lines.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { searchEvent } from '../sdk/append-cases.ts';
import { eventually, request, type Answer } from './gateway-kit.ts';

const MAIN = new URL('../../services/gateway/main.ts', import.meta.url).pathname;
/** Far above an answer's time on a loaded machine (the emulator acknowledges within a second); a frozen gateway never answers. */
const ANSWER_DEADLINE_MS = 60_000;

describe('gateway process: events larger than the free space of a batch buffer (issue 12 §0)', () => {
  let registry: Registry;
  let stack: LocalStack;
  let child: ChildProcess | undefined;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
  });
  after(async () => {
    // A frozen gateway does not handle SIGTERM; SIGKILL always ends it.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
  });

  it('a 100 KB event is answered and delivered byte-exact, another client is answered meanwhile, and 100-character queries past the buffer end too', async () => {
    child = spawn(process.execPath, [MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        METADATA_SERVER_DETECTION: 'none',
        PUBSUB_EMULATOR_HOST: stack.pubsub.host,
        HOURGLASS_MODE: 'local',
        HOURGLASS_PORT: '0',
        HOURGLASS_PROJECT: stack.pubsub.projectId,
      },
    });
    const logs: Record<string, unknown>[] = [];
    onJsonLines(child.stdout!, (line) => logs.push(line));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-5000)));
    await eventually('the gateway to listen', () => logs.some((l) => l.event === 'gateway_listening') || child!.exitCode !== null, 60_000);
    const listening = logs.find((l) => l.event === 'gateway_listening');
    assert.ok(listening, `the gateway did not start: ${stderr}`);
    const url = String(listening.url);
    const publisherId = String(listening.publisher);
    /** POSTs events with a deadline: a frozen gateway fails the test, it does not hang it. */
    const post = async (what: string, type: string, items: unknown[]): Promise<Answer> => {
      try {
        return await request(`${url}/v1/events/${type}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(items),
          signal: AbortSignal.timeout(ANSWER_DEADLINE_MS),
        });
      } catch (err) {
        throw new Error(`${what}: no answer within ${ANSWER_DEADLINE_MS} ms (the gateway's event loop is blocked?)`, { cause: err });
      }
    };

    // Fresh gateway: the first search_performed event opens a 64 KiB batch buffer that it does not fit in.
    const bigQuery = `big:${'Ω'.repeat(50_000)}`;
    const big = post('the 100 KB event', 'search_performed', [{ payload: searchEvent(bigQuery) }]);
    // Another client, a moment later, while the big event is being appended.
    await new Promise((r) => setTimeout(r, 500));
    const other = post('another client\'s request', 'track_played', [{ payload: trackPlayed(1) }, { payload: trackPlayed(2) }]);
    const settled = await Promise.allSettled([big, other]);
    const unanswered = settled.flatMap((s) => (s.status === 'rejected' ? [(s.reason as Error).message] : []));
    assert.deepEqual(unanswered, [], 'every request is answered');
    const [bigAnswer, otherAnswer] = settled.map((s) => (s as PromiseFulfilledResult<Answer>).value) as [Answer, Answer];
    assert.equal(bigAnswer.status, 200, bigAnswer.text);
    assert.deepEqual(bigAnswer.json, { accepted: 1 });
    assert.equal(otherAnswer.status, 200, otherAnswer.text);
    assert.deepEqual(otherAnswer.json, { accepted: 2 });

    // Many ordinary events whose batch crosses the end of its buffer, at many alignments (user ids of 1 to 40 characters).
    const queries = Array.from({ length: 1000 }, (_, i) => ({ payload: searchEvent(`${i}:`.padEnd(100, 'q'), 'u'.repeat(1 + (i % 40))) }));
    const many = await post('1000 search events', 'search_performed', queries);
    assert.equal(many.status, 200, many.text);
    assert.deepEqual(many.json, { accepted: 1000 });

    const delivered = (await drainSubscription(stack.client, stack.names.workerSubscription('search_performed')))
      .map((m) => decodeBatch(registry, m.data, m.attributes))
      .filter((b) => b.attributes.publisher === publisherId)
      .flatMap((b) => b.records)
      .sort((a, b) => Number(a.seq) - Number(b.seq));
    assert.deepEqual(
      delivered.map((r) => r.query),
      [bigQuery, ...queries.map((q) => q.payload.query)],
      'every accepted event is on the topic, byte-exact, in seq order',
    );
    assert.deepEqual(delivered.map((r) => r.user_id), ['user-00042', ...queries.map((q) => q.payload.user_id)]);
  });
});
