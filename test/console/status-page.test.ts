// The status console on a real pipeline run (emulator, SDK, worker, checker, 2-second windows): windows closed complete,
// one closed incomplete (a staged file removed, closed after the max wait), one with late events, one with a dead
// letter. Its JSON API reports each state, and in headless Chromium the page shows them, opens a window's manifest
// with the missing range on click, and is kept as a screenshot (artifacts/status-page.png).
import assert from 'node:assert/strict';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { startConsole } from '../../services/console/console-server.ts';
import type { StatusSnapshot, WindowDetail } from '../../services/console/status-model.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout, windowId } from '../../services/storage/layout.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../../services/storage/staging-manifest.ts';
import { encodeBatchAttributes } from '../../services/wire/batch-attributes.ts';
import { startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';

const CHROMIUM = process.env.HOURGLASS_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../artifacts/status-page.png', import.meta.url));
const GRID_WINDOWS = 40;

// --- A pipeline run with every state the page shows (top level, so the kit's after() runs at the end). ---
const kit = await startPipeline();
const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 20 });
const sent: Array<Promise<void>> = [];
for (let i = 0; i < 360; i++) {
  sent.push(publisher.publish('track_played', trackPlayed(i)));
  if (i % 6 === 0) sent.push(publisher.publish('search_performed', searchPerformed(i)));
  if (i % 40 === 39) await new Promise((r) => setTimeout(r, 550));
}
await Promise.all(sent);
await publisher.close();
await kit.worker.flush();
const staged = async (type: string) => {
  const keys = (await kit.storage.list(layout.stagingType(type))).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX)).map((o) => o.key);
  return Promise.all(keys.map(async (key) => ({ key, manifest: parseStagingManifest(key, await kit.storage.get(key)) })));
};
const tracks = await staged('track_played');
const searches = await staged('search_performed');
// A gap: remove one staged track_played file before any checker runs; its window closes incomplete after the max wait.
// The file is one whose neighbours in seq order are in its own window, so the gap can lie in that window only, and
// whose seqs no other file holds (a message the SDK retried can be staged twice).
const seqRange = (m: StagingManifest) => [Math.min(...m.messages.map((x) => x.firstSeq)), Math.max(...m.messages.map((x) => x.firstSeq + x.count))] as const;
const victimEntry = tracks.find(({ manifest }) => {
  const [from, to] = seqRange(manifest);
  const others = tracks.filter((t) => t.manifest !== manifest);
  if (others.some((t) => seqRange(t.manifest)[0] < to && seqRange(t.manifest)[1] > from)) return false;
  const same = others.filter((t) => t.manifest.window === manifest.window);
  return same.some((t) => seqRange(t.manifest)[1] <= from) && same.some((t) => seqRange(t.manifest)[0] >= to);
});
assert.ok(victimEntry, 'a staged file inside a window, holding seqs no other file holds');
const victim: StagingManifest = victimEntry.manifest;
// With the worker stopped first, Pub/Sub cannot hand the victim's message to a worker again (an ack the
// emulator lost would otherwise re-stage it), so the gap is real, as for a message that never arrives.
await kit.worker.stop();
await kit.storage.delete(victimEntry.key);
await kit.storage.delete(victim.file);
kit.startChecker({ checkerId: 'checker-console', maxWaitMs: 4000 });
const trackWindows = [...new Set(tracks.map((t) => t.manifest.window))].sort((a, b) => a - b);
const searchWindows = [...new Set(searches.map((t) => t.manifest.window))].sort((a, b) => a - b);
const closedTracks = await kit.waitForClosed('track_played', trackWindows);
await kit.waitForClosed('search_performed', searchWindows);
kit.restartWorker(); // for the late events and the dead letter below

// Late events: a publisher whose clock is behind stamps 5 events into a closed search_performed window.
const lateWindow = searchWindows[0]!;
const lateClock = { nowUs: () => (lateWindow * WINDOW_S + 1) * 1_000_000 };
const late = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, clock: lateClock, publisherId: 'late-pub' });
await Promise.all(Array.from({ length: 5 }, (_, i) => late.publish('search_performed', searchPerformed(i))));
await late.close();
await until('the late events are moved to the late area', async () => (await kit.storage.list(layout.late({ type: 'search_performed', index: lateWindow, lengthS: WINDOW_S }))).some((o) => o.key.endsWith('.manifest.json')));

// A dead letter: a message whose attributes name a closed track_played window but whose body is not a deflate block.
const deadWindow = trackWindows.at(-1)!;
await kit.stack.client.topic(kit.stack.names.eventTopic('track_played')).publishMessage({
  data: Buffer.from('not a deflate block'),
  attributes: encodeBatchAttributes({
    type: 'track_played', version: 2, publisher: 'broken-pub', firstSeq: 0, count: 3, window: deadWindow, windowS: WINDOW_S, codec: 'deflate',
    minReceiveUs: deadWindow * WINDOW_S * 1_000_000, maxReceiveUs: deadWindow * WINDOW_S * 1_000_000, clientIds: false,
  }),
});
await until('the worker writes the dead letter', async () => (await kit.storage.list('deadletter/track_played/')).length > 0);

const consoleServer = await startConsole({ storage: kit.storage, registry: kit.registry, port: 0 });
after(() => consoleServer.close());
const victimId = windowId(victim.window, WINDOW_S);
const victimManifest = closedTracks.find((m) => m.window === victim.window)!;
const lostRange = lostRangesOf(victimManifest)[0]!;

describe('status console API', () => {
  it('/api/status: every type, closed and incomplete windows with counts, close delay, late and dead-lettered events', async () => {
    const s = await getJson<StatusSnapshot>(`/api/status?windows=${GRID_WINDOWS}`);
    assert.equal(s.windowS, WINDOW_S);
    assert.equal(s.windows.length, GRID_WINDOWS);
    assert.deepEqual(s.types.map((t) => t.name), ['search_performed', 'track_played', 'ui_interaction']);
    assert.deepEqual(s.checkers.map((c) => c.id), ['checker-console']);
    const cell = (type: string, w: number) => s.cells.find((c) => c.type === type && c.window === w);
    for (const m of closedTracks) {
      const c = cell('track_played', m.window)!;
      assert.equal(c.state, m.status === 'complete' ? 'closed' : 'incomplete', `window ${m.window}`);
      assert.equal(c.events, m.events);
      assert.equal(c.closeDelayMs, m.closeDelayMs);
      assert.equal(c.hasManifest, true);
    }
    assert.equal(victimManifest.status, 'incomplete');
    assert.ok(closedTracks.some((m) => m.status === 'complete'), 'some track_played window closed complete');
    assert.equal(cell('track_played', victim.window)!.lostEvents, victim.events);
    assert.equal(cell('search_performed', lateWindow)!.lateEvents, 5);
    assert.equal(cell('track_played', deadWindow)!.deadLetters, 1);
    // No ui_interaction events were published: the windows since the checker started close empty, by proof
    // (once every publisher of the run is bounded or declared dead, which may take a liveness timeout).
    let ui = s.cells.filter((x) => x.type === 'ui_interaction');
    await until('an empty ui_interaction window is closed', async () => {
      ui = (await getJson<StatusSnapshot>(`/api/status?windows=${GRID_WINDOWS}`)).cells.filter((x) => x.type === 'ui_interaction');
      return ui.some((c) => c.state === 'closed');
    }, 60_000);
    for (const c of ui) {
      assert.ok(c.state === 'closed' || c.state === 'closing', `empty ui_interaction window ${c.window} is ${c.state}`);
      assert.ok(!c.events, `empty ui_interaction window ${c.window} holds no events`);
    }
  });

  it('/api/manifest/:type/:window: the manifest with its lost range, late files and dead letters; 400 and 404 as JSON', async () => {
    const detail = await getJson<WindowDetail>(`/api/manifest/track_played/${victimId}`);
    const manifest = detail.manifest as ClosedManifest;
    assert.equal(manifest.status, 'incomplete');
    assert.deepEqual(lostRangesOf(manifest), lostRangesOf(victimManifest));
    assert.equal(detail.success, true);
    const lateDetail = await getJson<WindowDetail>(`/api/manifest/search_performed/${windowId(lateWindow, WINDOW_S)}`);
    assert.equal(lateDetail.late.reduce((n, l) => n + l.events, 0), 5);
    const deadDetail = await getJson<WindowDetail>(`/api/manifest/track_played/${deadWindow}`);
    assert.deepEqual(deadDetail.deadLetters.map((d) => d.reason), ['corrupt_block']);
    for (const [url, status, code] of [
      ['/api/manifest/Track-Played/20260101T000000Z', 400, 'HG_BAD_REQUEST'],
      ['/api/manifest/track_played/yesterday', 400, 'HG_BAD_REQUEST'],
      ['/api/manifest/track_played/20200101T000001Z', 400, 'HG_BAD_REQUEST'],
      ['/api/manifest/track_played/20200101T000000Z', 404, 'HG_STORAGE_NOT_FOUND'],
      ['/api/status?windows=0', 400, 'HG_BAD_REQUEST'],
      ['/api/nothing', 404, 'HG_NO_ROUTE'],
    ] as const) {
      const res = await fetch(consoleServer.url + url);
      assert.equal(res.status, status, url);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code, url);
    }
  });
});

describe('status page in headless Chromium', () => {
  it('renders the grid with the run\'s states, opens the manifest with the missing range on click, and keeps a screenshot', async () => {
    await access(CHROMIUM).catch(() => {
      throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/setup.sh does, as root) or set HOURGLASS_CHROMIUM`);
    });
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    await page.goto(`${consoleServer.url}/?windows=${GRID_WINDOWS}&refresh=1500`);

    await page.locator('td.cell[data-state="incomplete"]').first().waitFor({ timeout: 20_000 });
    assert.deepEqual(await page.locator('#grid tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type'))), ['search_performed', 'track_played', 'ui_interaction']);
    const trackStates = await Promise.all(closedTracks.map((m) => page.locator(`td.cell[data-type="track_played"][data-window-id="${windowId(m.window, WINDOW_S)}"]`).getAttribute('data-state')));
    assert.deepEqual(trackStates, closedTracks.map((m) => (m.status === 'complete' ? 'closed' : 'incomplete')));
    assert.ok(trackStates.includes('closed') && trackStates.includes('incomplete'));
    const uiStates = await page.locator('#grid tr[data-type="ui_interaction"] td.cell[data-state]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-state')));
    assert.ok(uiStates.includes('closed') && uiStates.every((state) => state === 'closed' || state === 'closing'), `ui_interaction (no events) shows empty closes, and only those: ${uiStates.join(', ')}`);
    const lateCell = page.locator(`td.cell[data-type="search_performed"][data-window-id="${windowId(lateWindow, WINDOW_S)}"]`);
    assert.match(await lateCell.innerText(), /L5/);
    assert.match(await page.locator(`td.cell[data-type="track_played"][data-window-id="${windowId(deadWindow, WINDOW_S)}"]`).innerText(), /DL1/);
    assert.match(await page.locator('#health').innerText(), /checker checker-console/);
    assert.ok((await page.locator('#chart polyline').count()) >= 2, 'a close-delay line per type with closed windows');

    // Click the incomplete window: its manifest, with the lost range, opens beside the chart.
    await page.locator(`td.cell[data-type="track_played"][data-window-id="${victimId}"]`).click();
    await page.locator('#missing').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#detail').getAttribute('data-state'), 'incomplete');
    const missing = await page.locator('#missing').innerText();
    assert.ok(missing.includes(`[${lostRange[0]}, ${lostRange[1]})`), `the lost range [${lostRange[0]}, ${lostRange[1]}) is shown: ${missing}`);
    assert.match(await page.locator('[data-testid="incomplete-alert"]').innerText(), new RegExp(`${victim.events} event\\(s\\) lost`));

    // Auto-refresh keeps the selection and the panel.
    const before = await page.locator('#refresh-text').innerText();
    await page.waitForFunction((text) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('refresh-text').textContent !== text, before, { timeout: 10_000 });
    assert.equal(await page.locator('td.cell.selected').getAttribute('data-window-id'), victimId);
    await page.locator('#missing').waitFor();

    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, [], 'no script errors on the page');
  });
});

function lostRangesOf(m: ClosedManifest): Array<[number, number]> {
  return m.publishers.flatMap((p) => p.lost);
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(consoleServer.url + url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as T;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


