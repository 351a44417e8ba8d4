// SDK tests against the real Pub/Sub emulator: batches and their attributes, seqs, receive times, heartbeats, validation, close.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import type { Clock } from '../../services/time/clock.ts';
import { parseHeartbeat, type Heartbeat } from '../../services/wire/heartbeat.ts';
import { decodeBatch, type DecodedBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';

describe('publisher SDK on the Pub/Sub emulator', () => {
  let registry: Registry;
  let stack: LocalStack;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
  });
  after(() => stack.stop());

  const drainType = async (type: string): Promise<DecodedBatch[]> =>
    (await drainSubscription(stack.client, stack.names.workerSubscription(type))).map((m) => decodeBatch(registry, m.data, m.attributes));
  const drainHeartbeats = async () =>
    (await drainSubscription(stack.client, stack.names.controlSubscription)).map((m) => {
      const hb = parseHeartbeat(m.data);
      assert.ok(hb.ok, 'heartbeat parses');
      return hb.value;
    });

  it('delivers batches with the contract attributes, contiguous seqs, non-decreasing receive times and exact payloads', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client, maxBatchEvents: 300, lingerMs: 5 });
    const sent = Array.from({ length: 2000 }, (_, i) => trackPlayed(i));
    const before = Date.now() * 1000;
    await Promise.all(sent.map((e, i) => publisher.publish('track_played', e, i % 10 === 0 ? { eventId: `client-${i}` } : {})));
    await publisher.publishMany('search_performed', [{ payload: searchPerformed(1) }, { payload: searchPerformed(2), eventId: 'abc' }]);
    await publisher.close();

    const batches = (await drainType('track_played')).filter((b) => b.attributes.publisher === publisher.id);
    batches.sort((a, b) => a.attributes.firstSeq - b.attributes.firstSeq);
    let nextSeq = 0;
    let lastReceive = 0;
    for (const b of batches) {
      assert.equal(b.attributes.type, 'track_played');
      assert.equal(b.attributes.version, 2);
      assert.equal(b.attributes.codec, 'deflate');
      assert.equal(b.attributes.windowS, 3600);
      assert.equal(b.attributes.firstSeq, nextSeq, 'batches tile the seq space without gaps or overlaps');
      assert.ok(b.attributes.count <= 300);
      assert.equal(b.records.length, b.attributes.count);
      assert.equal(b.attributes.clientIds, b.records.some((r) => String(r.event_id).startsWith('sdk:client-')));
      for (const [k, r] of b.records.entries()) {
        const seq = b.attributes.firstSeq + k;
        assert.equal(r.seq, seq);
        assert.equal(r.publisher, publisher.id);
        assert.ok((r.receive_time as number) >= lastReceive, 'receive times are non-decreasing');
        assert.ok((r.receive_time as number) >= before);
        lastReceive = r.receive_time as number;
        // A client id is scoped by the publisher's origin ("sdk" by default); a generated one is not.
        assert.equal(r.event_id, seq % 10 === 0 ? `sdk:client-${seq}` : `${publisher.id}-${seq}`);
        const { event_id: _e, receive_time: _t, publisher: _p, seq: _s, ...payload } = r;
        assert.deepEqual(payload, sent[seq]);
      }
      nextSeq += b.attributes.count;
    }
    assert.equal(nextSeq, 2000);

    const searches = (await drainType('search_performed')).filter((b) => b.attributes.publisher === publisher.id);
    assert.deepEqual(searches.flatMap((b) => b.records.map((r) => r.event_id)), [`${publisher.id}-0`, 'sdk:abc']);

    const heartbeats = (await drainHeartbeats()).filter((h) => h.publisher === publisher.id);
    const final = heartbeats.find((h) => h.final);
    assert.ok(final, 'a final heartbeat was sent on close');
    assert.deepEqual(final.types.track_played, { nextSeq: 2000, ackedBelow: 2000 });
    assert.deepEqual(final.types.search_performed, { nextSeq: 2, ackedBelow: 2 });
    assert.ok(final.timeUs >= lastReceive, 'the final heartbeat is stamped after every event');
    for (const h of heartbeats) assert.ok(h.startedUs <= h.timeUs);
  });

  it('never lets a batch span a window boundary (clock driven by the test)', async () => {
    let now = Date.UTC(2026, 10, 22, 12, 0, 8) * 1000; // 2 s before a 10-second window ends
    const clock: Clock = { nowUs: () => now };
    const publisher = new Publisher({ registry, pubsub: stack.client, clock, windowLengthS: 10, lingerMs: 1000, publisherId: 'windowed-pub' });
    await publisher.ready(); // from here each publish() stamps at once, at the clock's time
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      pending.push(publisher.publish('track_played', trackPlayed(i)));
      now += 100_000; // 100 ms per event: crosses the boundary after 20 events
    }
    await publisher.close();
    await Promise.all(pending);
    const batches = (await drainType('track_played')).filter((b) => b.attributes.publisher === 'windowed-pub');
    assert.equal(batches.length, 2);
    for (const b of batches) {
      for (const r of b.records) assert.equal(Math.floor((r.receive_time as number) / 10_000_000), b.attributes.window);
    }
    assert.deepEqual(batches.map((b) => b.attributes.count).sort(), [10, 20]);
  });

  it('at a window end, sends the ended window’s open batch and a heartbeat at once, and another once the batch is acknowledged (no wait for the linger or the periodic heartbeat)', async () => {
    const endUs = Date.UTC(2026, 10, 22, 12, 0, 10) * 1000_000 / 1000;
    let now = endUs - 200_000; // 200 ms before a 10-second window ends
    const clock: Clock = { nowUs: () => now };
    // Linger and heartbeat interval far beyond the test: only the boundary can send these.
    const publisher = new Publisher({ registry, pubsub: stack.client, clock, windowLengthS: 10, lingerMs: 60_000, heartbeatIntervalMs: 60_000, publisherId: 'boundary-pub' });
    await publisher.ready();
    const pending = [0, 1, 2].map((i) => publisher.publish('track_played', trackPlayed(i)));
    now = endUs + 1000; // the window ends; the boundary timer fires about 205 ms from now in real time
    await Promise.all(pending); // resolves only if the boundary sealed the lingering batch
    const batches = (await drainType('track_played')).filter((b) => b.attributes.publisher === 'boundary-pub');
    assert.deepEqual(batches.map((b) => b.attributes.count), [3]);
    // The boundary heartbeat, and once the sealed batch settled, one that says so (ackedBelow 3): the checker's proof needs both
    // the time and the acks, and must not wait for a periodic heartbeat (60 s here) to get them.
    const beats: Heartbeat[] = [];
    const settled = () => beats.find((h) => !h.final && h.timeUs >= endUs && h.types.track_played?.ackedBelow === 3);
    for (const deadline = Date.now() + 10_000; !settled() && Date.now() < deadline; ) beats.push(...(await drainHeartbeats()).filter((h) => h.publisher === 'boundary-pub'));
    const boundary = beats.find((h) => !h.final && h.timeUs >= endUs);
    assert.ok(boundary, `a heartbeat stamped at or after the window end was sent before close (got ${beats.length} heartbeats)`);
    assert.equal(boundary.types.track_played?.nextSeq, 3);
    assert.ok(settled(), `a heartbeat after the window end shows its events acknowledged, before close (got ${JSON.stringify(beats.map((h) => h.types.track_played ?? null))})`);
    await publisher.close();
  });

  it('refuses unknown types, invalid events (naming the field path) and undeclared fields at once', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client });
    try {
      await assert.rejects(publisher.publish('no_such_type', {}), (e) => hasCode(e, 'HG_UNKNOWN_TYPE'));
      await assert.rejects(publisher.publish('track_played', { ...trackPlayed(1), ms_played: 'long' }), (e) => {
        assert.ok(hasCode(e, 'HG_INVALID_EVENT'));
        assert.match(e.message, /invalid track_played event 0: field "ms_played" expected a long \(integer within -4503599627370496\.\.9007199254740990\), got the string "long"/);
        return true;
      });
      await assert.rejects(publisher.publish('track_played', { ...trackPlayed(1), trackId: 'x' }), /field "trackId" is not a field of the schema/);
      await assert.rejects(publisher.publish('track_played', { ...trackPlayed(1), platform: 'FRIDGE' }), /field "platform" expected one of ANDROID, IOS/);
      // Regression: an undeclared field must not hide a type error beside it (avsc stops at the first).
      await assert.rejects(publisher.publish('track_played', { ...trackPlayed(1), ms_played: 'x', color: 1 }), (e) => {
        assert.ok(hasCode(e, 'HG_INVALID_EVENT'));
        assert.deepEqual((e.details as Array<{ path: string }>).map((d) => d.path).sort(), ['color', 'ms_played']);
        return true;
      });
      await assert.rejects(publisher.publish('track_played', trackPlayed(1), { version: 7 }), (e) => hasCode(e, 'HG_UNKNOWN_VERSION'));
      await assert.rejects(
        publisher.publishMany('track_played', [{ payload: trackPlayed(1) }, { payload: { user_id: 5 } }, { payload: trackPlayed(2), eventId: '' }]),
        (e) => {
          assert.ok(hasCode(e, 'HG_INVALID_EVENT'));
          const details = e.details as Array<{ index: number; path: string }>;
          assert.deepEqual([...new Set(details.map((d) => d.index))], [1, 2]);
          assert.ok(details.some((d) => d.index === 1 && d.path === 'user_id'));
          assert.ok(details.some((d) => d.index === 1 && d.path === 'track_id'));
          assert.ok(details.some((d) => d.index === 2 && d.path === 'event_id'));
          return true;
        },
      );
      // v1 events validate against v1 when asked, and v1 lacks "shuffle".
      await publisher.publish('track_played', trackPlayed(3, false), { version: 1 });
      await assert.rejects(publisher.publish('track_played', trackPlayed(3, true), { version: 1 }), /field "shuffle" is not a field/);
      assert.equal(publisher.stats().acceptedEvents, 1, 'nothing invalid was accepted');
    } finally {
      await publisher.close();
    }
  });

  it('scopes client event ids: by the origin, or by publishMany\'s eventIdScope; the limit counts the scope; a bad scope is refused', async () => {
    assert.throws(() => new Publisher({ registry, pubsub: stack.client, origin: 'my service' }), (e) => hasCode(e, 'HG_CONFIG_INVALID') && /origin.*"my service" is not an event id scope/.test(e.message));
    assert.throws(() => new Publisher({ registry, pubsub: stack.client, origin: 'a:b' }), (e) => hasCode(e, 'HG_CONFIG_INVALID'));
    const publisher = new Publisher({ registry, pubsub: stack.client, origin: 'playlist-service' });
    try {
      await publisher.publish('search_performed', searchPerformed(1), { eventId: 'x1' });
      await publisher.publishMany('search_performed', [{ payload: searchPerformed(2), eventId: 'x1' }, { payload: searchPerformed(3) }], { eventIdScope: 'key-0123456789ab' });
      await publisher.publishMany('search_performed', [{ payload: searchPerformed(4), eventId: 'a:b:c' }]);
      // 256 characters in all: the client's id may use what the scope leaves.
      const room = 256 - 'playlist-service:'.length;
      await publisher.publish('search_performed', searchPerformed(5), { eventId: 'y'.repeat(room) });
      await assert.rejects(publisher.publish('search_performed', searchPerformed(6), { eventId: 'y'.repeat(room + 1) }), (e) => {
        assert.ok(hasCode(e, 'HG_INVALID_EVENT'));
        assert.match(e.message, /field "event_id" is delivered scoped as "playlist-service:<event_id>", 257 characters, over the limit of 256: send at most 239 characters/);
        return true;
      });
      await assert.rejects(publisher.publishMany('search_performed', [{ payload: searchPerformed(7) }, { payload: searchPerformed(8), eventId: 'z'.repeat(250) }], { eventIdScope: 'web-app' }), (e) => {
        assert.ok(hasCode(e, 'HG_INVALID_EVENT'));
        assert.deepEqual((e.details as Array<{ index: number; path: string }>).map((d) => [d.index, d.path]), [[1, 'event_id']]);
        return true;
      });
      await assert.rejects(publisher.publishMany('search_performed', [{ payload: searchPerformed(9), eventId: 'x' }], { eventIdScope: 'bad:scope' }), (e) => hasCode(e, 'HG_CONFIG_INVALID') && /eventIdScope/.test(e.message));
      await publisher.flush();
      const ids = (await drainType('search_performed')).filter((b) => b.attributes.publisher === publisher.id).sort((a, b) => a.attributes.firstSeq - b.attributes.firstSeq).flatMap((b) => b.records.map((r) => r.event_id));
      assert.deepEqual(ids, ['playlist-service:x1', 'key-0123456789ab:x1', `${publisher.id}-2`, 'playlist-service:a:b:c', `playlist-service:${'y'.repeat(room)}`]);
      assert.equal(publisher.stats().acceptedEvents, 5, 'nothing refused was accepted');
    } finally {
      await publisher.close();
    }
  });

  it('refuses what the worker would refuse, before accepting anything: lone surrogates, inherited names as enum symbols, longs avsc would change', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client });
    try {
      const refused = async (payload: object, path: string, message: RegExp, options = {}) =>
        assert.rejects(publisher.publish('search_performed', payload, options), (e) => {
          assert.ok(hasCode(e, 'HG_INVALID_EVENT'), String(e));
          assert.deepEqual((e.details as Array<{ path: string; message: string }>).map((d) => d.path), [path]);
          assert.match((e.details as Array<{ message: string }>)[0]!.message, message);
          return true;
        });
      // Short strings: avsc wrote the surrogate's own bytes (ED A0 80), which the worker refused, dead-lettering
      // the whole message. Long ones (over 64 bytes): avsc wrote U+FFFD instead, and the text changed silently.
      await refused({ ...searchPerformed(1), query: 'caf\ud800' }, 'query', /lone surrogate \(U\+D800 at index 3\), which UTF-8 cannot encode/);
      await refused({ ...searchPerformed(1), query: `${'x'.repeat(70)}\udc00` }, 'query', /lone surrogate \(U\+DC00 at index 70\)/);
      await refused(searchPerformed(1), 'event_id', /must be Unicode text: it holds a lone surrogate/, { eventId: 'id-\ud83d' });
      // avsc found "toString" on its symbol table's prototype and wrote the first symbol, TYPED.
      await refused({ ...searchPerformed(1), input: 'toString' }, 'input', /expected one of TYPED, VOICE, SUGGESTION/);
      await refused({ ...searchPerformed(1), results_count: 2 ** 31 }, 'results_count', /expected an int \(32-bit integer\), got number 2147483648: outside/);
      await assert.rejects(
        publisher.publish('track_played', { ...trackPlayed(1), ms_played: -(2 ** 52) - 1 }),
        /field "ms_played" expected a long .*, got number -4503599627370497: outside -4503599627370496\.\.9007199254740990/,
      );
      // A surrogate pair is a character, not a fault.
      await publisher.publish('search_performed', { ...searchPerformed(1), query: 'caf\ud83d\ude00' });
      assert.equal(publisher.stats().acceptedEvents, 1, 'only the valid event was accepted');
    } finally {
      await publisher.close();
    }
  });

  it('close() is idempotent and later publishes are refused with a clear error', async () => {
    const publisher = new Publisher({ registry, pubsub: stack.client });
    await publisher.publish('search_performed', searchPerformed(1));
    await Promise.all([publisher.close(), publisher.close()]);
    await assert.rejects(publisher.publish('search_performed', searchPerformed(2)), (e) => hasCode(e, 'HG_PUBLISHER_CLOSED') && /after close\(\)/.test(e.message));
    await assert.rejects(publisher.publishMany('search_performed', [{ payload: searchPerformed(2) }]), (e) => hasCode(e, 'HG_PUBLISHER_CLOSED'));
  });

  it('backpressure bounds the buffer: publish() waits instead of growing memory', async () => {
    const maxBufferedBytes = 32 * 1024;
    const publisher = new Publisher({ registry, pubsub: stack.client, maxBufferedBytes, maxBatchEvents: 50, lingerMs: 1 });
    await publisher.ready(); // before it, calls are held unstamped and nothing is buffered
    const all: Promise<void>[] = [];
    let waited = 0;
    for (let i = 0; i < 5000; i++) {
      if (publisher.wouldBlock()) waited++;
      all.push(publisher.publish('track_played', trackPlayed(i)));
    }
    await Promise.all(all);
    await publisher.close();
    const stats = publisher.stats();
    assert.ok(waited > 0, 'the buffer filled up at some point');
    assert.ok(stats.peakBufferedBytes <= maxBufferedBytes + 1024, `peak ${stats.peakBufferedBytes} bytes exceeds the ${maxBufferedBytes}-byte bound`);
    assert.equal(stats.acknowledgedEvents, 5000);
    assert.equal(stats.bufferedBytes, 0);
    await drainType('track_played');
  });
});
