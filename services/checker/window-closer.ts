// Closes a window: part files, then _MANIFEST.json (create-only: the commit point), then _SUCCESS.
//
// Part names carry the attempt id, so racing closers never overwrite each other: whoever creates the
// manifest first wins, the loser deletes its parts and adopts the winner's manifest. A crash before
// the manifest leaves parts no manifest lists (removed by the next attempt); a crash after it is
// finished by writing _SUCCESS. A closed window never changes after _SUCCESS.
import { randomBytes } from 'node:crypto';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { CodecName } from '../wire/codecs.ts';
import { windowEndUs, windowStartUs } from '../wire/window.ts';
import { CLOSED_MANIFEST_FORMAT, rangeTotal, type ClosedManifest } from './closed-manifest.ts';
import type { PublisherProof } from './close-rule.ts';
import type { IndexedManifest } from './staging-index.ts';
import { convertPart } from './part-converter.ts';
import { segmentState, type Segment } from './segments.ts';
import { compactWindow, type PartFile } from './window-compactor.ts';
import { WindowedRuns } from './windowed-runs.ts';

export interface CloseRequest {
  readonly ref: WindowRef;
  readonly status: 'complete' | 'incomplete';
  readonly reason: string;
  readonly proofs: readonly PublisherProof[];
  readonly manifests: readonly IndexedManifest[];
  /** Segments compacted while the window was open; their staged files are skipped. */
  readonly segments: readonly Segment[];
  readonly closer: string;
  readonly nowMs: () => number;
  readonly maxPartBytes: number;
  readonly codec: CodecName;
}

/** Reads a window's manifest, if it has one. */
export async function readClosedManifest(storage: Storage, ref: WindowRef): Promise<ClosedManifest | undefined> {
  try {
    return JSON.parse((await storage.get(layout.closed(ref) + layout.manifestName)).toString('utf8')) as ClosedManifest;
  } catch (err) {
    if (hasCode(err, 'HG_STORAGE_NOT_FOUND')) return undefined;
    throw err;
  }
}

/** Closes the window (or finishes a close someone else committed); returns the manifest that won. */
export async function closeWindow(storage: Storage, registry: Registry, req: CloseRequest): Promise<ClosedManifest> {
  const dir = layout.closed(req.ref);
  const existing = await readClosedManifest(storage, req.ref);
  if (existing) {
    await finish(storage, dir, existing);
    return existing;
  }
  const attempt = randomBytes(6).toString('hex');
  const state = await segmentState(storage, req.segments);
  const tail = req.manifests.filter((m) => !state.consumed.has(m.key));
  const schemaVersion = Math.max(...req.segments.map((g) => g.schemaVersion), ...tail.map((m) => m.manifest.version));
  // Segments become parts by a cheap copy; only a segment in an older schema is rewritten.
  const files: PartFile[] = [];
  let redelivered = 0;
  let clientRetries = 0;
  for (const segment of req.segments) {
    redelivered += segment.redelivered;
    clientRetries += segment.clientRetries;
    for (const [k, part] of segment.parts.entries()) {
      const targetKey = `${dir}part-${attempt}-s${segment.n}-${String(k).padStart(5, '0')}.avro`;
      if (segment.schemaVersion === schemaVersion && segment.codec === req.codec) {
        await storage.copy(part.key, targetKey);
        files.push({ ...part, name: targetKey.slice(dir.length), key: targetKey });
      } else {
        files.push(await convertPart(storage, registry, { type: req.ref.type, from: segment.schemaVersion, to: schemaVersion, sourceKey: part.key, targetKey, codec: req.codec }));
      }
    }
  }
  const written = new Map<string, WindowedRuns>();
  for (const [p, runs] of state.runs) written.set(p, WindowedRuns.of(runs.runs));
  if (tail.length > 0) {
    const result = await compactWindow(storage, registry, tail, {
      type: req.ref.type,
      window: req.ref.index,
      alreadyDelivered: state.runs,
      deliveredEventIds: state.clientIds,
      outPrefix: dir,
      namePrefix: 'part',
      maxPartBytes: req.maxPartBytes,
      codec: req.codec,
      attempt,
      schemaVersion,
    });
    files.push(...result.files);
    redelivered += result.redeliveredDropped;
    clientRetries += result.clientRetryDropped;
    for (const [p, runs] of result.written) {
      let r = written.get(p);
      if (!r) written.set(p, (r = new WindowedRuns()));
      r.addAll(runs);
    }
  }
  const target = registry.version(req.ref.type, schemaVersion);
  const publishers = req.proofs.map((proof) => {
    const runs = written.get(proof.publisher);
    const ranges = (runs?.runs ?? []).map((r) => [r.from, r.to] as [number, number]);
    return { ...proof, events: rangeTotal(ranges), ranges };
  });
  const events = files.reduce((n, f) => n + f.events, 0);
  // Publishers with events here but no proof entry cannot exist: the rule covers everyone seen in the window.
  const windowEndMs = windowEndUs(req.ref.index, req.ref.lengthS) / 1000;
  const manifest: ClosedManifest = {
    format: CLOSED_MANIFEST_FORMAT,
    type: req.ref.type,
    window: req.ref.index,
    windowS: req.ref.lengthS,
    windowStart: new Date(windowStartUs(req.ref.index, req.ref.lengthS) / 1000).toISOString(),
    windowEnd: new Date(windowEndMs).toISOString(),
    status: req.status,
    reason: req.reason,
    schemaVersion,
    schema: JSON.parse(target.deliveredSchemaJson),
    codec: req.codec,
    events,
    duplicatesDropped: { redelivered, clientRetries },
    lostEvents: publishers.reduce((n, p) => n + rangeTotal(p.lost), 0),
    abandonedEvents: publishers.reduce((n, p) => n + rangeTotal(p.abandoned), 0),
    publishers,
    files: files.map(({ key: _key, ...f }) => f),
    stagingFiles: req.manifests.map((m) => m.manifest.file),
    closeDelayMs: Math.max(0, req.nowMs() - windowEndMs),
    closedAt: new Date(req.nowMs()).toISOString(),
    closer: req.closer,
    attempt,
  };
  try {
    await storage.createOnly(dir + layout.manifestName, JSON.stringify(manifest, null, 2));
  } catch (err) {
    if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
    // Another closer committed first: ours is not the closed window.
    for (const f of files) await storage.delete(f.key);
    const winner = (await readClosedManifest(storage, req.ref))!;
    await finish(storage, dir, winner);
    return winner;
  }
  await finish(storage, dir, manifest);
  return manifest;
}

/** Removes parts the manifest does not list (debris of crashed or losing attempts), then writes _SUCCESS. */
async function finish(storage: Storage, dir: string, manifest: ClosedManifest): Promise<void> {
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const o of await storage.list(dir)) {
    const name = o.key.slice(dir.length);
    if (name.startsWith('part-') && !listed.has(name)) await storage.delete(o.key);
  }
  try {
    await storage.createOnly(dir + layout.successName, JSON.stringify({ manifestAttempt: manifest.attempt, events: manifest.events, status: manifest.status }));
  } catch (err) {
    if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
  }
}
