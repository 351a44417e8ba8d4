// Closed-window events in a real pipeline (emulator, SDK, worker, two racing checkers, 2-second windows), on a local
// directory and on fake-gcs-server: after de-duplication on dedupKey, exactly one event per closed window — complete,
// incomplete and empty ones — each sent only once the window's _SUCCESS exists, each matching the stored manifest
// byte for byte (SHA-256); a failed publish and a crash between the publish and its marker still give one event.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Message } from '@google-cloud/pubsub';
import { announcedKey, OWED_PREFIX, owedKey, topicSink, type EventSink } from '../../services/checker/window-announcer.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import { STAGING_MANIFEST_SUFFIX, parseStagingManifest } from '../../services/storage/staging-manifest.ts';
import { windowOf } from '../../services/wire/window.ts';
import { parseWindowClosedEvent, type WindowClosedEvent } from '../../services/wire/window-closed-event.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { startPipeline, WINDOW_S, type PipelineBackend } from '../helpers/pipeline-kit.ts';
import { trackPlayed } from '../helpers/sample-events.ts';

for (const backend of ['local', 'gcs'] as const satisfies readonly PipelineBackend[]) describe(`closed-window events (${backend})`, () => {
  it('exactly one event per closed window after de-duplication (complete, incomplete, empty), each after _SUCCESS and matching its manifest', async () => {
    const kit = await startPipeline({ backend });
    const names = kit.stack.names;
    const [subscription] = await kit.stack.client.topic(names.closedWindowsTopic).createSubscription(`closed-windows-test-${backend}`, { enableMessageOrdering: true });
    const received: Array<{ event: WindowClosedEvent; data: string; attributes: Record<string, string> }> = [];
    /** Events a checker handed to its sink before the window's _SUCCESS existed (must stay empty). */
    const sentEarly: string[] = [];
    const successFirst = (send: EventSink): EventSink => async (data, attributes, key) => {
      const event = parseWindowClosedEvent(data);
      const ref = { type: event.type, index: Date.parse(event.windowStart) / 1000 / event.windowS, lengthS: event.windowS };
      if (!(await kit.storage.stat(layout.closed(ref) + layout.successName))) sentEarly.push(event.dedupKey);
      return send(data, attributes, key);
    };
    const receipts: Promise<void>[] = [];
    subscription.on('message', (m: Message) => {
      m.ack();
      receipts.push((async () => {
        received.push({ event: parseWindowClosedEvent(m.data), data: m.data.toString('utf8'), attributes: m.attributes });
      })());
    });
    try {
      // Windows of track_played with events, one of them with a gap (a staged file removed before any checker runs).
      const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 20 });
      // Ten bursts 500 ms apart: a 2-s window gets several staged files, so one of them has others on both sides.
      for (let i = 0; i < 200; i++) {
        void publisher.publish('track_played', trackPlayed(i));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 500));
      }
      await publisher.flush();
      let manifests: Array<{ key: string }> = [];
      const until = Date.now() + 15_000;
      for (;;) {
        await kit.worker.flush();
        manifests = (await kit.storage.list('staging/track_played/')).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX));
        const staged = await Promise.all(manifests.map(async (o) => parseStagingManifest(o.key, await kit.storage.get(o.key)).events));
        if (staged.reduce((a, b) => a + b, 0) === 200) break;
        assert.ok(Date.now() < until, 'the worker staged all 200 events within 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      // The victim has staged files of its window on both sides (lower and higher seqs): its seqs can only be in that window,
      // so that window, and no other, closes incomplete with exactly them lost (a gap at a window's edge could be either
      // neighbour's). And its window keeps other staged files: a window with nothing staged that ended before any checker
      // started is not this deployment's to close.
      const parsed = await Promise.all(manifests.map(async (o) => ({ key: o.key, m: parseStagingManifest(o.key, await kit.storage.get(o.key)) })));
      const seqSpan = (m: (typeof parsed)[number]['m']) => [Math.min(...m.messages.map((x) => x.firstSeq)), Math.max(...m.messages.map((x) => x.firstSeq + x.count))] as const;
      const chosen = parsed.find((p) => {
        const [from, to] = seqSpan(p.m);
        const sameWindow = parsed.filter((q) => q !== p && q.m.window === p.m.window).map((q) => seqSpan(q.m));
        return sameWindow.some(([, end]) => end <= from) && sameWindow.some(([start]) => start >= to);
      });
      assert.ok(chosen, `a staged file with others of its window on both sides (${parsed.length} staged in all: ${parsed.map((p) => `${p.m.window}:${seqSpan(p.m).join('-')}`).join(', ')})`);
      const victim = chosen.m;
      await kit.storage.delete(chosen.key);
      await kit.storage.delete(victim.file);

      // Checker a: its first publish fails (the window is announced by a later round). Checker b: its first marker
      // write fails after the publish went out (a crash between the two: that window is announced twice).
      const sink = topicSink(kit.stack.client, names.closedWindowsTopic);
      let failedPublish = false;
      const aSend: typeof sink.send = async (...args) => {
        if (!failedPublish) {
          failedPublish = true;
          throw new Error('simulated publish failure');
        }
        return sink.send(...args);
      };
      let crashedMarker: string | undefined;
      const bStorage = overrideStorage(kit.storage, {
        createOnly: async (key, data) => {
          if (crashedMarker === undefined && key.startsWith(`${layout.checker}announced/`)) {
            crashedMarker = key;
            throw new Error('simulated crash before the marker');
          }
          return kit.storage.createOnly(key, data);
        },
      });
      kit.startChecker({ checkerId: 'checker-a', maxWaitMs: 4000 }, undefined, undefined, { announce: successFirst(aSend) });
      kit.startChecker({ checkerId: 'checker-b', maxWaitMs: 4000 }, bStorage, undefined, { announce: successFirst(sink.send) });

      await kit.waitForClosed('track_played', [victim.window]);
      // After the gap's window closed (and took its lost seqs), more events: their window closes complete.
      const from = windowOf(Date.now() * 1000, WINDOW_S);
      await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish('track_played', trackPlayed(200 + i))));
      const last = from + 2;
      await kit.waitForClosed('track_played', [from, from + 1, last]);
      await kit.waitForClosed('search_performed', [last]);
      await publisher.close();
      // Every close seen so far is announced: wait for the events (the checkers announce before removing staging).
      const closedNow = [...kit.closed.values()];
      const deadline = Date.now() + 30_000;
      const seen = () => new Set(received.map((r) => r.event.dedupKey));
      // Done when every close is announced and marked, and nothing is owed: the window whose marker write crashed
      // is owed, and announced again from its record (within the 10-s retry), not by a round that visits it.
      const settled = async () => {
        if (closedNow.some((m) => !seen().has(`${m.type}/${m.windowStart}`))) return false;
        if ((await kit.storage.list(OWED_PREFIX)).length > 0) return false;
        for (const m of closedNow) if (!(await kit.storage.stat(announcedKey({ type: m.type, index: m.window, lengthS: WINDOW_S })))) return false;
        return true;
      };
      while (!(await settled()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 500)); // the last copy's delivery
      await Promise.all(receipts);

      const byKey = new Map<string, typeof received>();
      for (const r of received) byKey.set(r.event.dedupKey, [...(byKey.get(r.event.dedupKey) ?? []), r]);
      for (const m of closedNow) {
        const copies = byKey.get(`${m.type}/${m.windowStart}`);
        assert.ok(copies, `an event for ${m.type} ${m.windowStart} (${m.status}, ${m.events} events)`);
        // De-duplication on dedupKey is safe: every copy is the same close, byte for byte.
        assert.equal(new Set(copies.map((c) => c.data)).size, 1, `every copy of ${m.type} ${m.windowStart} is identical`);
        const { event, attributes } = copies[0]!;
        assert.equal(event.status, m.status);
        assert.equal(event.events, m.events);
        assert.equal(event.lostEvents, m.lostEvents);
        assert.equal(event.abandonedEvents, m.abandonedEvents);
        assert.deepEqual(attributes, { format: 'hg-window-closed-1', type: m.type, window_start: m.windowStart, status: m.status, dedup_key: event.dedupKey });
        const ref = { type: m.type, index: m.window, lengthS: WINDOW_S };
        assert.equal(event.folder, `${kit.storage.location}/${layout.closed(ref)}`);
        const bytes = await kit.storage.get(layout.closed(ref) + layout.manifestName);
        assert.equal(event.manifest.sha256, createHash('sha256').update(bytes).digest('hex'), 'the SHA-256 of the stored manifest');
        assert.ok(await kit.storage.stat(announcedKey(ref)), 'the marker records the announcement');
      }
      assert.deepEqual(sentEarly, [], 'no window announced before its _SUCCESS existed');
      // Nothing announced that did not close.
      const everyClosed = new Set([...kit.closed.values()].map((m) => `${m.type}/${m.windowStart}`));
      for (const key of byKey.keys()) assert.ok(everyClosed.has(key), `${key} was announced and is closed`);
      // The three kinds of close, and the two faults, happened.
      const closes = () => closedNow.map((m) => `${m.window}: ${m.status}, ${m.events} events, ${m.lostEvents} lost`).join('; ');
      assert.ok(closedNow.some((m) => m.window === victim.window && m.status === 'incomplete' && m.lostEvents === victim.events), `the gap window ${victim.window} closed incomplete, ${victim.events} lost (closes: ${closes()}; the gap window's: ${JSON.stringify(closedNow.filter((m) => m.window === victim.window).map((m) => ({ reason: m.reason, proofs: m.publishers })))}; victim ${JSON.stringify(victim.messages)})`);
      assert.ok(closedNow.some((m) => m.status === 'complete' && m.events > 0), 'a complete window with events');
      assert.ok(closedNow.some((m) => m.status === 'complete' && m.events === 0), 'an empty window');
      assert.ok(failedPublish, "checker-a's first publish failed");
      assert.ok(crashedMarker, "checker-b crashed between a publish and its marker");
      const crashed = [...kit.closed.values()].find((m) => announcedKey({ type: m.type, index: m.window, lengthS: WINDOW_S }) === crashedMarker);
      assert.ok(crashed, `the crashed marker ${crashedMarker} is a closed window's`);
      assert.ok(byKey.get(`${crashed.type}/${crashed.windowStart}`)!.length >= 2, 'the window whose marker write crashed was announced again');
      await sink.close();
    } finally {
      await subscription.close();
      await subscription.delete().catch(() => undefined);
      await kit.stop();
    }
  });

  it('while every publish fails the closes go on (staging removed, windows recorded as owed); once Pub/Sub is back every owed window is announced, once, and its record cleared', async () => {
    const kit = await startPipeline({ backend });
    const sent: string[] = [];
    const failed = new Set<string>();
    let pubsubDown = true;
    try {
      kit.startChecker({ checkerId: 'checker-alone' }, undefined, undefined, {
        announce: async (data) => {
          const key = parseWindowClosedEvent(data).dedupKey;
          if (pubsubDown) {
            failed.add(key);
            throw new Error('simulated publish failure');
          }
          sent.push(key);
        },
      });
      // Windows with events (staged files to remove) and empty ones, all closed while no publish gets through.
      const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5 });
      const first = windowOf(Date.now() * 1000, WINDOW_S);
      await Promise.all(Array.from({ length: 30 }, (_, i) => publisher.publish('track_played', trackPlayed(i))));
      await publisher.close();
      const windows = [first, first + 1, first + 2];
      for (const type of ['track_played', 'search_performed', 'ui_interaction']) await kit.waitForClosed(type, windows);
      const withEvents = [...kit.closed.values()].filter((m) => m.type === 'track_played' && m.events > 0);
      assert.ok(withEvents.length > 0, 'a window with events closed');
      const stagingGone = Date.now() + 15_000;
      while ((await kit.storage.list('staging/track_played/')).length > 0 && Date.now() < stagingGone) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual((await kit.storage.list('staging/track_played/')).map((o) => o.key), [], 'the closes removed their staging although no announcement got through');
      const owed = async () => (await kit.storage.list(OWED_PREFIX)).map((o) => o.key);
      const closedKeys = [...kit.closed.values()].filter((m) => windows.includes(m.window));
      for (const m of closedKeys) assert.ok((await owed()).includes(owedKey({ type: m.type, index: m.window, lengthS: WINDOW_S })), `${m.type} ${m.windowStart} is recorded as owed`);
      assert.equal(sent.length, 0, "nothing got through while Pub/Sub was down");

      pubsubDown = false;
      // Owed windows are retried every 10 s; the windows closing from now on are announced at once.
      const wanted = [...failed];
      const deadline = Date.now() + 30_000;
      while ((wanted.some((k) => !sent.includes(k)) || (await owed()).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const k of wanted) assert.ok(sent.includes(k), `${k}, owed, was announced (sent: ${sent.length})`);
      assert.deepEqual(await owed(), [], 'every owed record cleared once its window was announced');
      // Alone, it announces each window once: the marker stops a second publish.
      assert.equal(new Set(sent).size, sent.length, `no window announced twice by one checker: ${sent.join(', ')}`);
    } finally {
      await kit.stop();
    }
  });
});
