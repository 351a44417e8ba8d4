// The status snapshot from crafted bucket contents: replicas' status files merged (most advanced state wins), manifests
// authoritative, late events from late manifests, dead letters attributed to the window their attributes name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BucketStatusReader } from '../../services/console/status-reader.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout, windowId } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const W = 10; // window length (s)
const NOW_MS = Date.UTC(2026, 10, 22, 21, 5, 3);
const CURRENT = Math.floor(NOW_MS / 1000 / W);
const start = (w: number) => new Date(w * W * 1000).toISOString();
const state = (type: string, window: number, s: string, extra: object = {}) => ({ type, window, windowStart: start(window), state: s, stagedEvents: 0, lateEvents: 0, path: '', ...extra });

describe('BucketStatusReader', () => {
  it('merges replicas, prefers manifests, counts late events and dead letters per window, and notes stale checkers', async () => {
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-console-reader-'));
    const registry = await Registry.load();
    const ref = (type: string, index: number) => ({ type, index, lengthS: W });
    await storage.put('checker/status/a.json', JSON.stringify({
      checker: 'a', updatedAt: new Date(NOW_MS - 1000).toISOString(), windowS: W, errors: [],
      publishers: [{ id: 'p1', lastSeenMs: NOW_MS - 1000, final: false, alive: true }],
      windows: [state('track_played', CURRENT - 3, 'closing', { stagedEvents: 50, waitingOn: ['p1: no heartbeat'] }), state('track_played', CURRENT, 'open', { stagedEvents: 7 }), state('search_performed', CURRENT - 2, 'closed', { events: 4, closeDelayMs: 900 })],
    }));
    await storage.put('checker/status/b.json', JSON.stringify({
      checker: 'b', updatedAt: new Date(NOW_MS - 120_000).toISOString(), windowS: W, errors: ['boom'],
      publishers: [{ id: 'p1', lastSeenMs: NOW_MS - 90_000, final: false, alive: false }],
      windows: [state('track_played', CURRENT - 3, 'closed', { events: 50, closeDelayMs: 1500 }), state('track_played', CURRENT - 500, 'closed', { events: 1 })],
    }));
    // A closed manifest the checkers no longer report on, and one committed without _SUCCESS yet.
    const manifest = (index: number, status: string) => JSON.stringify({ type: 'track_played', window: index, windowS: W, status, events: 12, closeDelayMs: 2500, lostEvents: status === 'incomplete' ? 3 : 0, abandonedEvents: 1 });
    await storage.put(layout.closed(ref('track_played', CURRENT - 6)) + layout.manifestName, manifest(CURRENT - 6, 'incomplete'));
    await storage.put(layout.closed(ref('track_played', CURRENT - 6)) + layout.successName, '');
    await storage.put(layout.closed(ref('track_played', CURRENT - 5)) + layout.manifestName, manifest(CURRENT - 5, 'complete'));
    // Late events in two files of one window; dead letters: one naming a window, one without attributes, one of no type.
    for (const [name, events] of [['late-x', 2], ['late-y', 3]] as const) {
      await storage.put(`${layout.late(ref('search_performed', CURRENT - 2))}${name}.manifest.json`, JSON.stringify({ window: CURRENT - 2, windowS: W, events }));
    }
    await storage.put(`${layout.deadletter('track_played', NOW_MS)}m1.json`, JSON.stringify({ reason: 'corrupt_block', attributes: { window: String(CURRENT - 3), window_s: String(W) }, atUs: NOW_MS * 1000 }));
    await storage.put(`${layout.deadletter('track_played', NOW_MS)}m2.json`, JSON.stringify({ reason: 'bad_attributes', attributes: {}, atUs: (NOW_MS - 5000) * 1000 }));
    await storage.put(`${layout.deadletter('_unknown', NOW_MS)}m3.json`, JSON.stringify({ reason: 'bad_attributes', attributes: {}, atUs: NOW_MS * 1000 }));

    const reader = new BucketStatusReader({ storage, registry, nowMs: () => NOW_MS });
    const s = await reader.snapshot({ windows: 12 });
    assert.equal(s.windowS, W);
    assert.equal(s.windows.length, 12);
    assert.equal(s.windows.at(-1)!.window, CURRENT);
    const cell = (type: string, w: number) => s.cells.find((c) => c.type === type && c.window === w);
    assert.deepEqual(pick(cell('track_played', CURRENT - 3)), { state: 'closed', events: 50, closeDelayMs: 1500, deadLetters: 1, source: 'checker' }, 'the replica that saw it closed wins over the one still waiting');
    assert.deepEqual(pick(cell('track_played', CURRENT - 6)), { state: 'incomplete', events: 12, closeDelayMs: 2500, deadLetters: 0, source: 'manifest' });
    assert.equal(cell('track_played', CURRENT - 6)!.lostEvents, 3);
    assert.deepEqual(pick(cell('track_played', CURRENT - 5)), { state: 'closing', events: 12, closeDelayMs: 2500, deadLetters: 0, source: 'manifest' }, 'a manifest without _SUCCESS is still closing');
    assert.equal(cell('track_played', CURRENT)!.state, 'open');
    assert.equal(cell('track_played', CURRENT)!.stagedEvents, 7);
    assert.equal(cell('track_played', CURRENT - 1)!.deadLetters, 1, 'a dead letter without a window counts where it arrived');
    assert.equal(cell('search_performed', CURRENT - 2)!.lateEvents, 5);
    assert.equal(cell('track_played', CURRENT - 500), undefined, 'outside the range');
    assert.equal(s.unknownTypeDeadLetters, 1);
    assert.deepEqual(s.checkers.map((c) => [c.id, c.errors.length]), [['a', 0], ['b', 1]]);
    assert.ok(s.notes.some((n) => /checker b last reported 120 s ago/.test(n)), s.notes.join('; '));
    assert.deepEqual(s.publishers.map((p) => [p.id, p.alive]), [['p1', true]], 'the newest report of a publisher wins');

    const detail = await reader.windowDetail('track_played', CURRENT - 3);
    assert.equal(detail?.manifest, undefined);
    assert.deepEqual(detail?.deadLetters.map((d) => d.reason), ['corrupt_block']);
    assert.equal(await reader.windowDetail('ui_interaction', CURRENT - 3), undefined);
    assert.equal(windowId(CURRENT, W), s.windows.at(-1)!.windowId);
  });

  it('with no checker status: the fallback window length, and a note saying so', async () => {
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-console-reader-'));
    const s = await new BucketStatusReader({ storage, windowS: 60, nowMs: () => NOW_MS }).snapshot({ windows: 3, type: 'track_played' });
    assert.equal(s.windowS, 60);
    assert.deepEqual(s.types.map((t) => [t.name, t.registered]), [['track_played', false]]);
    assert.deepEqual(s.cells, []);
    assert.match(s.notes[0]!, /no checker status in file:\/\/.*\/checker\/status\/ \(is a checker running\?\)/);
  });
});

function pick(c: { state: string; events?: number; closeDelayMs?: number; deadLetters: number; source: string } | undefined) {
  assert.ok(c, 'cell exists');
  return { state: c.state, events: c.events, closeDelayMs: c.closeDelayMs, deadLetters: c.deadLetters, source: c.source };
}
