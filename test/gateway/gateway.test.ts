// The gateway against the real Pub/Sub emulator and a real Publisher: the 200 path to the topic, and every error status with a body that says what is wrong.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { resolveGatewayOptions, type GatewayOptions } from '../../services/gateway/gateway-options.ts';
import { silentLogger } from '../../services/gateway/log.ts';
import { startGateway, type RunningGateway } from '../../services/gateway/server.ts';
import { emulatorClient, startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher, type PublisherOptions } from '../../services/sdk/index.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { assertError, eventually, postEvents, request } from './gateway-kit.ts';

const TOKEN = 'gw_emulator_test_token_42';

describe('gateway on the Pub/Sub emulator', () => {
  let registry: Registry;
  let stack: LocalStack;
  let proxy: TcpProxy;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    proxy = await startTcpProxy(stack.pubsub.host);
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await proxy?.close();
    await stack?.stop();
  });

  interface Started {
    readonly gateway: RunningGateway;
    readonly publisher: Publisher;
  }

  /** A real Publisher (on its own client: direct, or through the proxy) behind a gateway on 127.0.0.1:0. */
  const start = async (
    opts: { publisher?: Partial<Omit<PublisherOptions, 'registry' | 'pubsub'>>; gateway?: Partial<GatewayOptions>; viaProxy?: boolean } = {},
  ): Promise<Started> => {
    const client: PubSub = emulatorClient(opts.viaProxy ? proxy.address : stack.pubsub.host, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, origin: 'gateway', ...opts.publisher });
    const options = resolveGatewayOptions({}, { mode: 'local', port: 0, ...opts.gateway });
    const gateway = await startGateway({ publisher, registry, options, logger: silentLogger });
    cleanups.push(async () => {
      await gateway.close();
      await client.close();
    });
    return { gateway, publisher };
  };

  const batchesOf = async (type: string, publisherId: string) =>
    (await drainSubscription(stack.client, stack.names.workerSubscription(type)))
      .map((m) => decodeBatch(registry, m.data, m.attributes))
      .filter((b) => b.attributes.publisher === publisherId)
      .sort((a, b) => a.attributes.firstSeq - b.attributes.firstSeq);

  it('200: answers {"accepted": N} once Pub/Sub has every event, with gateway-stamped receive times and client ids kept', async () => {
    const { gateway, publisher } = await start();
    const requests = 5;
    const perRequest = 100;
    const beforeUs = Date.now() * 1000;
    const answers = await Promise.all(
      Array.from({ length: requests }, (_, r) =>
        postEvents(
          gateway.url,
          'track_played',
          Array.from({ length: perRequest }, (_, i) => ({ payload: trackPlayed(r * perRequest + i), ...(i % 10 === 0 ? { event_id: `client-${r}-${i}` } : {}) })),
        ),
      ),
    );
    const afterUs = Date.now() * 1000;
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(a.json, { accepted: perRequest });
    }
    // Acknowledged before the answer: the publisher holds nothing any more.
    assert.equal(publisher.stats().acknowledgedEvents, requests * perRequest);
    const v1 = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(9, false) }], {}, '?version=1');
    assert.deepEqual(v1.json, { accepted: 1 });
    const other = await postEvents(gateway.url, 'search_performed', [{ payload: searchPerformed(1) }]);
    assert.deepEqual(other.json, { accepted: 1 });

    const batches = await batchesOf('track_played', publisher.id);
    let nextSeq = 0;
    let total = 0;
    const clientIds = new Set<string>();
    for (const b of batches) {
      const a = b.attributes;
      assert.equal(a.type, 'track_played');
      assert.equal(a.publisher, publisher.id);
      assert.equal(a.firstSeq, nextSeq, 'batches tile the seq space');
      assert.equal(a.count, b.records.length);
      nextSeq += a.count;
      total += a.count;
      for (const r of b.records) {
        // Authentication is off here: the client is "anonymous", and its ids are scoped by it.
        if (String(r.event_id).startsWith('anonymous:client-')) clientIds.add(String(r.event_id));
        if (a.version === 2) {
          // Stamped by the gateway's publisher while the request was being handled: the server's clock.
          assert.ok((r.receive_time as number) >= beforeUs && (r.receive_time as number) <= afterUs, 'receive time within the request');
        }
      }
    }
    assert.equal(total, requests * perRequest + 1, 'the counts add up to the events sent');
    assert.deepEqual(batches.map((b) => b.attributes.version).filter((v, i, all) => all.indexOf(v) === i), [2, 1]);
    assert.equal(clientIds.size, requests * (perRequest / 10), 'every client event id arrived');
    assert.equal((await batchesOf('search_performed', publisher.id)).reduce((n, b) => n + b.attributes.count, 0), 1);
  });

  it('400: an event_id valid alone but too long once scoped by its client, naming the limit; the same id under a shorter scope fits', async () => {
    const { gateway, publisher } = await start({ gateway: { authEnabled: true, tokens: [`web-app:${TOKEN}`, `w:${TOKEN}-2`] } });
    const id = 'i'.repeat(250);
    const body = [{ payload: trackPlayed(0) }, { payload: trackPlayed(1), event_id: id }];
    const error = assertError(await postEvents(gateway.url, 'track_played', body, { authorization: `Bearer ${TOKEN}` }), 400, 'HG_INVALID_EVENT');
    assert.deepEqual(error.details, [{ index: 1, path: 'event_id', message: 'is delivered scoped as "web-app:<event_id>", 258 characters, over the limit of 256: send at most 248 characters' }]);
    assert.equal(publisher.stats().acceptedEvents, 0, 'none of the request was accepted');
    assert.equal((await postEvents(gateway.url, 'track_played', body, { authorization: `Bearer ${TOKEN}-2` })).status, 200, '"w:" + 250 characters fits in 256');
  });

  it('400: lists every invalid event by index, field path and reason, and accepts none of the request', async () => {
    const { gateway, publisher } = await start();
    const body = [
      { payload: trackPlayed(0) },
      { payload: { ...trackPlayed(1), ms_played: 'a while' } },
      { payload: trackPlayed(2) },
      { payload: { ...trackPlayed(3), platform: 'TOASTER' } },
      { payload: { ...trackPlayed(4), country: undefined } },
      { payload: trackPlayed(5), event_id: '' },
      { payload: trackPlayed(6), receive_time: 1 },
    ];
    const error = assertError(await postEvents(gateway.url, 'track_played', body), 400, 'HG_INVALID_EVENT', /^5 invalid events, none accepted/);
    const problems = error.details as Array<{ index: number; path: string; message: string }>;
    assert.deepEqual(
      problems.map((p) => [p.index, p.path]),
      [
        [1, 'payload.ms_played'],
        [3, 'payload.platform'],
        [4, 'payload.country'],
        [5, 'event_id'],
        [6, 'receive_time'],
      ],
    );
    assert.match(problems[0]!.message, /expected .*long.*got the string "a while"/);
    assert.match(problems[1]!.message, /one of ANDROID, IOS/);
    assert.match(problems[2]!.message, /missing/);
    assert.match(problems[3]!.message, /non-empty string/);
    assert.match(problems[4]!.message, /is not allowed/);

    // Only schema faults: the publisher's own validation answers, re-based onto the request.
    const schemaOnly = assertError(
      await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }, { payload: { ...trackPlayed(1), offline: 'no' } }]),
      400,
      'HG_INVALID_EVENT',
    );
    assert.deepEqual((schemaOnly.details as Array<{ index: number; path: string }>).map((p) => [p.index, p.path]), [[1, 'payload.offline']]);
    assert.equal(publisher.stats().acceptedEvents, 0, 'nothing of an invalid request was accepted');
  });

  it('400: text the worker would refuse (a lone surrogate, bytes that are not UTF-8) is refused with the event, field and offset; nothing of the request is accepted', async () => {
    const { gateway, publisher } = await start();
    const events = (query: string) => `[${JSON.stringify({ payload: searchPerformed(0) })},{"payload":${JSON.stringify({ ...searchPerformed(1), query: 'QUERY' }).replace('"QUERY"', query)}}]`;
    // JSON's \ud800 escape: was 200, then the worker dead-lettered the whole message, valid events and all.
    const lone = assertError(await postEvents(gateway.url, 'search_performed', events('"caf\\ud800"')), 400, 'HG_INVALID_EVENT', /^1 invalid event, none accepted; first: event 1 "payload.query"/);
    assert.deepEqual(lone.details, [{ index: 1, path: 'payload.query', message: 'expected a string, got the string "caf\\ud800": it holds a lone surrogate (U+D800 at index 3), which UTF-8 cannot encode' }]);
    // Raw bytes that are not UTF-8: body-parser turned them into U+FFFD, and the changed text was delivered.
    const text = Buffer.from(events('"caf\u00e9"'));
    const at = text.indexOf(Buffer.from('é'));
    const body = Buffer.concat([text.subarray(0, at), Buffer.from([0xe9]), text.subarray(at + 2)]);
    const raw = await request(`${gateway.url}/v1/events/search_performed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const bytes = assertError(raw, 400, 'HG_INVALID_EVENT', /^1 invalid event, none accepted; first: event 1 "payload.query" holds bytes that are not UTF-8/);
    assert.deepEqual(bytes.details, [{ index: 1, path: 'payload.query', message: `holds bytes that are not UTF-8 (0xE9 at byte ${at} of the body)`, position: at }]);
    assert.equal(publisher.stats().acceptedEvents, 0, 'the valid event beside the bad one was not accepted either');
    assert.deepEqual(await batchesOf('search_performed', publisher.id), []);
  });

  it('400: malformed JSON says where it breaks; wrong body shapes say what was expected', async () => {
    const { gateway } = await start();
    const broken = assertError(await postEvents(gateway.url, 'track_played', '[{"payload": {"user_id": "u1",}}]'), 400, 'HG_BAD_REQUEST', /not valid JSON.*position 30 \(line 1, column 31\)/);
    assert.deepEqual(broken.details, { reason: 'Expected double-quoted property name', position: 30, line: 1, column: 31 });
    assertError(await postEvents(gateway.url, 'track_played', '[{"payload": {}}'), 400, 'HG_BAD_REQUEST', /not valid JSON/);
    assertError(await postEvents(gateway.url, 'track_played', { events: [] }), 400, 'HG_BAD_REQUEST', /must be a JSON array.*send the array itself/);
    assertError(await postEvents(gateway.url, 'track_played', []), 400, 'HG_BAD_REQUEST', /no events/);
    assertError(await postEvents(gateway.url, 'track_played', ''), 400, 'HG_BAD_REQUEST', /empty/);
    assertError(await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }], {}, '?version=9'), 400, 'HG_UNKNOWN_VERSION', /no schema version 9/);
    assertError(await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }], {}, '?version=latest'), 400, 'HG_BAD_REQUEST', /"version"/);
  });

  it('404: an unknown event type names the known ones', async () => {
    const { gateway } = await start();
    const error = assertError(await postEvents(gateway.url, 'track_skipped', [{ payload: {} }]), 404, 'HG_UNKNOWN_TYPE', /unknown event type "track_skipped"/);
    assert.match(error.message, /track_played/);
    assert.deepEqual(error.details, { type: 'track_skipped' });
  });

  it('413: a body over the byte limit, a request over the event limit, and one event over the event size limit', async () => {
    const { gateway, publisher } = await start({ gateway: { maxBodyBytes: 4096, maxEventsPerRequest: 10 }, publisher: { maxEventBytes: 300 } });
    const big = Array.from({ length: 30 }, (_, i) => ({ payload: trackPlayed(i) }));
    const body = assertError(await postEvents(gateway.url, 'track_played', big), 413, 'HG_BODY_TOO_LARGE', /larger than the limit of 4096 bytes/);
    assert.equal((body.details as { limit: number }).limit, 4096);

    const many = assertError(await postEvents(gateway.url, 'track_played', big.slice(0, 11)), 413, 'HG_BODY_TOO_LARGE', /11 events; at most 10/);
    assert.deepEqual(many.details, { events: 11, limit: 10 });

    const huge = { ...trackPlayed(1), context_uri: `playlist:${'x'.repeat(400)}` };
    const event = assertError(
      await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }, { payload: huge }]),
      413,
      'HG_EVENT_TOO_LARGE',
      /event 1 of type "track_played" is \d+ bytes encoded; the limit is 300/,
    );
    assert.equal((event.details as { index: number }).index, 1);
    assert.equal((event.details as { limit: number }).limit, 300);
    assert.ok((event.details as { bytes: number }).bytes > 300);
    assert.equal(publisher.stats().acceptedEvents, 0, 'the small event of that request was not accepted either');
  });

  it('415: anything but application/json (UTF-8)', async () => {
    const { gateway } = await start();
    const events = JSON.stringify([{ payload: trackPlayed(0) }]);
    const plain = await postEvents(gateway.url, 'track_played', events, { 'content-type': 'text/plain' });
    assert.deepEqual(assertError(plain, 415, 'HG_BAD_CONTENT_TYPE', /unsupported Content-Type "text\/plain".*application\/json/).details, { contentType: 'text/plain' });
    assertError(await postEvents(gateway.url, 'track_played', events, { 'content-type': 'application/json; charset=iso-8859-1' }), 415, 'HG_BAD_CONTENT_TYPE', /charset/);
  });

  it('401: missing or wrong bearer token, with WWW-Authenticate; the right one is accepted', async () => {
    const { gateway } = await start({ gateway: { authEnabled: true, tokens: [TOKEN] } });
    const events = [{ payload: trackPlayed(0) }];
    const missing = await postEvents(gateway.url, 'track_played', events);
    assertError(missing, 401, 'HG_UNAUTHORIZED', /missing bearer token/);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="hourglass"');
    const wrong = await postEvents(gateway.url, 'track_played', events, { authorization: `Bearer ${TOKEN}x` });
    assertError(wrong, 401, 'HG_UNAUTHORIZED', /invalid bearer token/);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer realm="hourglass", error="invalid_token"');
    assert.doesNotMatch(wrong.text, new RegExp(TOKEN));
    assertError(await postEvents(gateway.url, 'track_played', events, { authorization: `Basic ${TOKEN}` }), 401, 'HG_UNAUTHORIZED', /malformed/);
    const ok = await postEvents(gateway.url, 'track_played', events, { authorization: `Bearer ${TOKEN}` });
    assert.deepEqual(ok.json, { accepted: 1 });
  });

  it('429 with Retry-After while the publisher buffer is full; the waiting request still ends in 200', async () => {
    // A 1-byte buffer is full as soon as one event waits for its ack, and a blackholed link keeps it waiting.
    const { gateway, publisher } = await start({ viaProxy: true, publisher: { maxBufferedBytes: 1, lingerMs: 1 }, gateway: { retryAfterS: 2 } });
    assert.deepEqual((await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }])).json, { accepted: 1 }, 'link up');
    proxy.cut('blackhole');
    let first;
    try {
      first = postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(1) }]);
      await eventually('the first request to fill the buffer', () => publisher.wouldBlock());
      const busy = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(2) }]);
      const error = assertError(busy, 429, 'HG_BACKPRESSURE', /buffer is full: retry after 2 s/);
      assert.equal(error.retryable, true);
      assert.equal(busy.headers.get('retry-after'), '2');
    } finally {
      proxy.restore();
    }
    const firstAnswer = await first;
    assert.equal(firstAnswer.status, 200, firstAnswer.text);
    assert.equal(publisher.stats().acknowledgedEvents, 2);
  });

  it('503 with Retry-After when Pub/Sub is unreachable: first past the publish deadline, then at once while unhealthy; 200 again once it is back', async () => {
    const { gateway, publisher } = await start({
      viaProxy: true,
      publisher: { lingerMs: 1, publishDeadlineMs: 1000, attemptTimeoutMs: 300, initialBackoffMs: 20, maxBackoffMs: 100, heartbeatIntervalMs: 200 },
      gateway: { retryAfterS: 4 },
    });
    assert.equal((await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }])).status, 200);
    proxy.cut('refuse');
    try {
      const late = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(1) }]);
      const error = assertError(late, 503, 'HG_PUBSUB_UNAVAILABLE', /Pub\/Sub is unavailable.*retry the whole request/);
      assert.equal(error.retryable, true);
      assert.equal(late.headers.get('retry-after'), '4');
      assert.equal(publisher.stats().failedEvents, 1, 'that answer came from the publish deadline');

      await eventually('the publisher to report itself unhealthy', () => !publisher.isHealthy());
      const shed = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(2) }]);
      assertError(shed, 503, 'HG_PUBSUB_UNAVAILABLE');
      assert.equal(shed.headers.get('retry-after'), '4');
      const ready = await request(`${gateway.opsUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((await request(`${gateway.opsUrl}/healthz`)).status, 200, 'liveness does not depend on Pub/Sub');
    } finally {
      proxy.restore();
    }
    await eventually('the publisher to recover (heartbeats get through)', () => publisher.isHealthy(), 60_000);
    assert.deepEqual((await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(3) }])).json, { accepted: 1 });
  });
});
