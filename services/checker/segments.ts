// Incremental compaction: while a window is open, its staged files are compacted into segments, so closing only finishes the tail.
//
// A segment is an optimisation, never the only copy: it records which staged files it holds, and
// those files stay in staging until the window closes. So a segment lost in a race between two
// checkers, or made after a close had planned without it, costs only work, never events.
// Segments are numbered; seg-N is created with a create-only put on top of seg-0..N-1 (its dedup
// state starts from theirs), so replicas build one chain. A segment's client ids go to a chunk under
// checker/client-ids/ (client-id-chunks.ts), not to staging: the close lists the chain's chunks in the
// closed window's index, so the late area can de-duplicate against them after staging is gone.
import { createHash } from 'node:crypto';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { CodecName } from '../wire/codecs.ts';
import { clientIdsPrefix, describeChunk, encodeClientIds, forEachClientId, type ClientIdChunk } from './client-id-chunks.ts';
import { ClientIdTimes } from './client-id-times.ts';
import type { IndexedManifest } from './staging-index.ts';
import { compactWindow, type PartFile } from './window-compactor.ts';
import { runsOf, WindowedRuns } from './windowed-runs.ts';

/** 2: client ids spilled as a digest chunk under checker/client-ids/ (1 kept them as JSON in staging; a 1 is ignored, so its files are compacted again). */
export const SEGMENT_FORMAT = 'hg-segment-2';

export interface Segment {
  readonly format: typeof SEGMENT_FORMAT;
  readonly type: string;
  readonly window: number;
  readonly n: number;
  readonly schemaVersion: number;
  readonly codec: CodecName;
  /** Staging manifests whose events this segment holds. */
  readonly stagingManifests: string[];
  readonly parts: PartFile[];
  /** Seqs held, per publisher. */
  readonly runs: Record<string, Array<[number, number]>>;
  /** The chunk of client ids this segment holds (spilled: memory holds only what is within the horizon); absent when it holds none. */
  readonly clientIds?: ClientIdChunk;
  readonly events: number;
  readonly redelivered: number;
  readonly clientRetries: number;
  readonly checker: string;
}

export const segmentPrefix = (ref: WindowRef) => `${layout.staging(ref)}compacted/`;
const segmentKey = (ref: WindowRef, n: number) => `${segmentPrefix(ref)}seg-${String(n).padStart(6, '0')}.json`;
export const isSegmentKey = (key: string) => /\/compacted\/seg-\d{6}\.json$/.test(key);

/** What a chain of segments already holds: seqs per publisher, and client ids (those that can still matter). */
export interface SegmentState {
  readonly runs: Map<string, WindowedRuns>;
  readonly clientIds: ClientIdTimes;
}

/** The staged files no segment of the chain holds yet. */
export function notInSegments(staged: readonly IndexedManifest[], segments: readonly Segment[]): IndexedManifest[] {
  const held = new Set(segments.flatMap((g) => g.stagingManifests));
  return staged.filter((m) => !held.has(m.key));
}

/**
 * The chain's state. Client ids are read only from segments holding one received at or after `idsSinceUs`:
 * a record received before that is beyond the dedup horizon of anything compacted next, so memory and
 * reads stay bounded by the horizon, not the window.
 */
export async function segmentState(storage: Storage, segments: readonly Segment[], idsSinceUs = -Infinity): Promise<SegmentState> {
  const runs = new Map<string, WindowedRuns>();
  const clientIds = new ClientIdTimes();
  for (const s of segments) {
    for (const [p, ranges] of Object.entries(s.runs)) {
      const r = runsOf(runs, p);
      for (const [from, to] of ranges) r.add(from, to, s.window, s.window);
    }
    if (s.clientIds && s.clientIds.newestUs >= idsSinceUs) {
      forEachClientId(await storage.get(s.clientIds.key), (key, receivedUs) => {
        if (receivedUs >= idsSinceUs) clientIds.add(key, receivedUs);
      }, s.clientIds.key);
    }
  }
  return { runs, clientIds };
}

/**
 * Compacts `staged` (not yet in any segment) into segment number `segments.length`.
 * Returns the new segment, or undefined when another checker created that number first.
 */
export async function compactSegment(
  storage: Storage,
  registry: Registry,
  ref: WindowRef,
  segments: readonly Segment[],
  staged: readonly IndexedManifest[],
  o: { codec: CodecName; maxPartBytes: number; checker: string; clientIdHorizonUs: number },
): Promise<Segment | undefined> {
  const n = segments.length;
  const state = await segmentState(storage, segments, idsSince(staged, o.clientIdHorizonUs));
  const namePrefix = `seg-${String(n).padStart(6, '0')}`;
  const result = await compactWindow(storage, registry, staged, {
    type: ref.type,
    window: ref.index,
    alreadyDelivered: state.runs,
    deliveredEventIds: state.clientIds,
    clientIdHorizonUs: o.clientIdHorizonUs,
    outPrefix: segmentPrefix(ref),
    namePrefix,
    maxPartBytes: o.maxPartBytes,
    codec: o.codec,
  });
  const clientIds = describeChunk(`${clientIdsPrefix(ref)}${namePrefix}-${result.attempt}.ids`, result.keptClientIds);
  if (clientIds) await storage.createOnly(clientIds.key, encodeClientIds(result.keptClientIds));
  const segment: Segment = {
    format: SEGMENT_FORMAT,
    type: ref.type,
    window: ref.index,
    n,
    schemaVersion: result.schemaVersion,
    codec: o.codec,
    stagingManifests: staged.map((m) => m.key),
    parts: result.files,
    runs: Object.fromEntries([...result.written].map(([p, r]) => [p, r.runs.map((x) => [x.from, x.to] as [number, number])])),
    ...(clientIds ? { clientIds } : {}),
    events: result.events,
    redelivered: result.redeliveredDropped,
    clientRetries: result.clientRetryDropped,
    checker: o.checker,
  };
  try {
    await storage.createOnly(segmentKey(ref, n), JSON.stringify(segment));
    return segment;
  } catch (err) {
    if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
    for (const f of result.files) await storage.delete(f.key);
    if (clientIds) await storage.delete(clientIds.key);
    return undefined;
  }
}

export function parseSegment(key: string, bytes: Buffer): Segment {
  const s = JSON.parse(bytes.toString('utf8')) as Segment;
  if (s.format !== SEGMENT_FORMAT) throw new Error(`${key}: not a ${SEGMENT_FORMAT} segment`);
  return s;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The receive time from which client ids can still be duplicates of what `staged` holds. */
export function idsSince(staged: readonly IndexedManifest[], horizonUs: number): number {
  let oldest = Infinity;
  for (const { manifest } of staged) for (const m of manifest.messages) if (m.clientIds) oldest = Math.min(oldest, m.minReceiveUs);
  return oldest - horizonUs;
}
