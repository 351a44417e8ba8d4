// The benchmarks' audit of closed windows, on a window closed by the real closer: it passes a faithful window and counts each kind of fault (a missing, a duplicated, a misplaced event, an incomplete window, a late object, a corrupt part).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditClosed, listClosedWindows, type Acknowledged } from '../../bench/kit/closed-audit.ts';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { closeWindow } from '../../services/checker/window-closer.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { windowOf } from '../../services/wire/window.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ACKNOWLEDGED: Acknowledged[] = [
  { type: 'track_played', publisher: 'a', events: 20 },
  { type: 'track_played', publisher: 'b', events: 30 },
];

/** A bucket with one window of track_played closed by closeWindow: a's seqs [0, 20), b's [0, 30). */
async function closedBucket(): Promise<{ storage: LocalDirectoryStorage; dir: string }> {
  const registry = await Registry.load();
  const storage = await LocalDirectoryStorage.open(await tempDir());
  const staged = await stageMessages(storage, registry, [
    { publisher: 'a', firstSeq: 0, count: 20 },
    { publisher: 'b', firstSeq: 0, count: 30, receiveUs: BASE_RECEIVE_US + 1000 },
  ]);
  const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
  await closeWindow(storage, registry, {
    ref, status: 'complete', reason: 'test', proofs: [], manifests: staged, segments: [], closer: 'test',
    nowMs: () => Date.now(), maxPartBytes: 1 << 30, codec: 'deflate', clientIdHorizonUs: 600e6,
  });
  return { storage, dir: layout.closed(ref) };
}

async function editManifest(storage: LocalDirectoryStorage, dir: string, edit: (m: ClosedManifest) => ClosedManifest): Promise<void> {
  const m = JSON.parse((await storage.get(dir + layout.manifestName)).toString('utf8')) as ClosedManifest;
  await storage.put(dir + layout.manifestName, JSON.stringify(edit(m)));
}

async function audit(storage: LocalDirectoryStorage, acknowledged = ACKNOWLEDGED) {
  const a = await auditClosed(storage, await listClosedWindows(storage, ['track_played']), acknowledged);
  const { windows: _w, problems, ...counts } = a;
  return { counts, problems };
}

const CLEAN = { records: 50, missing: 0, duplicates: 0, unexpected: 0, misplaced: 0, incompleteWindows: 0, miscountedWindows: 0, lostEvents: 0, lateObjects: 0, lateEvents: 0, deadLetterObjects: 0 };

describe('auditClosed', () => {
  it('a faithful closed window: every acknowledged event once, nothing else', async () => {
    const { storage } = await closedBucket();
    const { counts, problems } = await audit(storage);
    assert.deepEqual(counts, CLEAN);
    assert.deepEqual(problems, []);
  });

  it('an acknowledged event the window lacks is missing; one nobody acknowledged is unexpected', async () => {
    const { storage } = await closedBucket();
    const { counts, problems } = await audit(storage, [
      { type: 'track_played', publisher: 'a', events: 21 },
      { type: 'track_played', publisher: 'b', events: 29 },
    ]);
    assert.deepEqual(counts, { ...CLEAN, missing: 1, unexpected: 1 });
    assert.ok(problems.some((p) => p.includes('a: missing [20, 21)')), problems.join('\n'));
  });

  it('a part file listed twice: every event duplicated, and the manifest miscounts its parts', async () => {
    const { storage, dir } = await closedBucket();
    await editManifest(storage, dir, (m) => ({ ...m, files: [...m.files, ...m.files] }));
    const { counts } = await audit(storage);
    assert.deepEqual(counts, { ...CLEAN, records: 100, duplicates: 50, miscountedWindows: 1 });
  });

  it('records outside their window are misplaced; an incomplete window with lost events is counted', async () => {
    const { storage, dir } = await closedBucket();
    await editManifest(storage, dir, (m) => ({ ...m, window: m.window + 1, status: 'incomplete', lostEvents: 3 }));
    const { counts } = await audit(storage);
    assert.deepEqual(counts, { ...CLEAN, misplaced: 50, incompleteWindows: 1, lostEvents: 3 });
  });

  it('anything in late/ or deadletter/ is counted; a window without _SUCCESS is not read', async () => {
    const { storage, dir } = await closedBucket();
    await storage.put('late/track_played/dt=2026-01-01/hour=00/late-x.manifest.json', '{}');
    await storage.put('deadletter/track_played/dt=2026-01-01/hour=00/x.json', '{}');
    await storage.delete(dir + layout.successName);
    const { counts } = await audit(storage);
    assert.deepEqual(counts, { ...CLEAN, records: 0, missing: 50, lateObjects: 1, deadLetterObjects: 1 });
  });

  it('a corrupt part file fails the audit instead of counting what it can', async () => {
    const { storage, dir } = await closedBucket();
    const part = (await storage.list(dir)).find((o) => o.key.endsWith('.avro'))!;
    const bytes = await storage.get(part.key);
    const at = bytes.length - 40; // inside the last block's body
    bytes[at] = bytes[at]! ^ 0xff;
    await storage.delete(part.key);
    await storage.createOnly(part.key, bytes);
    await assert.rejects(audit(storage), /\.avro: the block at byte \d+ does not read as \d+ records/);
  });
});
