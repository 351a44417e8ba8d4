// Closes a window: parts built aside, then _MANIFEST.json (create-only: the commit point), then the parts put in place, then _SUCCESS.
//
// Nothing enters the window's folder before its manifest exists: parts are built under
// staging/<type>/<window>/closing/<attempt>/ with a plan of where each final file comes from. Whoever
// creates the manifest first wins; the loser drops its attempt folder and adopts the winner's
// manifest. Putting parts in place (a hard link or a server-side copy) is idempotent and driven by
// the winner's plan, so a crash at any step is finished by the next round of any checker. A closed
// window never changes after _SUCCESS, and never holds a file its manifest does not list.
import { createHash, randomBytes } from 'node:crypto';
import { mapLimit } from '../concurrency/map-limit.ts';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { CodecName } from '../wire/codecs.ts';
import { windowEndUs, windowStartUs } from '../wire/window.ts';
import { describeChunk, encodeClientIds, type ClientIdChunk } from './client-id-chunks.ts';
import { removeAttemptClientIds, tailIdsKey, writeClosedClientIds } from './closed-client-ids.ts';
import { CLOSED_MANIFEST_FORMAT, rangeTotal, type ClosedManifest, type DeadLetteredSeqs } from './closed-manifest.ts';
import type { PublisherProof } from './close-rule.ts';
import type { IndexedManifest, IndexedNote } from './staging-index.ts';
import { convertPart } from './part-converter.ts';
import { idsSince, notInSegments, segmentState, type Segment } from './segments.ts';
import { compactWindow, type PartFile } from './window-compactor.ts';
import { runsOf, WindowedRuns } from './windowed-runs.ts';

/** Part files put in place at once after the commit. */
const COPIES_IN_PARALLEL = 16;

export interface CloseRequest {
  readonly ref: WindowRef;
  readonly status: 'complete' | 'incomplete';
  readonly reason: string;
  readonly proofs: readonly PublisherProof[];
  /** Publishers bounded past the window that never used its type (left out of the proofs). Default 0. */
  readonly otherPublishersBounded?: number;
  readonly manifests: readonly IndexedManifest[];
  /** Workers' notes of this window's seqs they dead-lettered. Default: none. */
  readonly deadLetterNotes?: readonly IndexedNote[];
  /** Segments compacted while the window was open; their staged files are skipped. */
  readonly segments: readonly Segment[];
  readonly closer: string;
  /** When the close rule held (ms since the epoch); defaults to when closing started. */
  readonly provenAtMs?: number;
  readonly nowMs: () => number;
  readonly maxPartBytes: number;
  readonly codec: CodecName;
  /** Client-id duplicates are dropped when received at most this far apart (µs). */
  readonly clientIdHorizonUs: number;
  /**
   * The caller read the window's manifest just now and found none: the close does not read it again. (A close
   * committed meanwhile by another replica is still found: the create-only commit fails, and its manifest is adopted.)
   */
  readonly knownUncommitted?: boolean;
}

/** What a close did, for the caller's cleanup and announcement (saving them a listing and two reads). */
export interface CloseOutcome {
  /** The manifest that won. */
  readonly manifest: ClosedManifest;
  /** Whether this call's own attempt committed it. */
  readonly committedHere: boolean;
  /** What this call's attempt wrote under its closing folder (to remove once the window is closed). */
  readonly attemptKeys: readonly string[];
  /** SHA-256 of the manifest's bytes as stored, when this call wrote them. */
  readonly manifestSha256?: string;
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
  return (await closeWindowOutcome(storage, registry, req)).manifest;
}

/** closeWindow, saying also whether this call committed the manifest and what its attempt wrote. */
export async function closeWindowOutcome(storage: Storage, registry: Registry, req: CloseRequest): Promise<CloseOutcome> {
  const dir = layout.closed(req.ref);
  const existing = req.knownUncommitted ? undefined : await readClosedManifest(storage, req.ref);
  if (existing) {
    await finish(storage, req.ref, existing);
    return { manifest: existing, committedHere: false, attemptKeys: [] };
  }
  const attempt = randomBytes(6).toString('hex');
  const work = closingPrefix(req.ref, attempt);
  const written: string[] = [];
  let committed: Committed;
  try {
    committed = await attemptClose(storage, registry, req, attempt, work, dir, written);
  } catch (err) {
    // Which manifest is there now decides what this attempt's files are. (A write can land and still
    // report a failure, as a request that times out after the object was created: then the manifest is
    // ours, its parts must stay, and the close goes on.) If that cannot be read, keep them: they are
    // removed with the window's staging once it is closed.
    let winner: ClosedManifest | undefined;
    try {
      winner = await readClosedManifest(storage, req.ref);
    } catch {
      throw err;
    }
    if (winner?.attempt === attempt) {
      await finish(storage, req.ref, winner);
      return { manifest: winner, committedHere: true, attemptKeys: written };
    }
    // Not committed, or another checker's commit: this attempt's own files must not outlive it. Its client ids go
    // first: while they may remain, so does its folder, and a window whose staging shows another attempt has its
    // client ids swept once closed (checker.ts; a close committed cleanly does not look).
    const idsRemoved = await removeAttemptClientIds(storage, req.ref, attempt).then(() => true, () => false);
    if (idsRemoved) for (const o of await storage.list(work).catch(() => [])) await storage.delete(o.key).catch(() => undefined);
    if (!winner) throw err;
    await finish(storage, req.ref, winner);
    return { manifest: winner, committedHere: false, attemptKeys: [] };
  }
  // Committed: from here a failure leaves the attempt folder for the next round to finish from. Nothing entered the
  // window's folder before the commit, and this call holds the plan: no listing of the folder, no read of the plan.
  await finish(storage, req.ref, committed.manifest, committed.plan);
  return { manifest: committed.manifest, committedHere: true, attemptKeys: written, manifestSha256: committed.sha256 };
}

interface Committed {
  readonly manifest: ClosedManifest;
  readonly plan: ClosePlan;
  readonly sha256: string;
}

/** Where a closing attempt builds its parts and plan. */
export const closingPrefix = (ref: WindowRef, attempt: string) => `${layout.staging(ref)}closing/${attempt}/`;
export const closingRoot = (ref: WindowRef) => `${layout.staging(ref)}closing/`;

interface ClosePlan {
  readonly attempt: string;
  /** Final file name → the object holding its bytes now. */
  readonly sources: Record<string, string>;
}

async function attemptClose(storage: Storage, registry: Registry, req: CloseRequest, attempt: string, work: string, dir: string, attemptKeys: string[]): Promise<Committed> {
  const provenAtMs = req.provenAtMs ?? req.nowMs();
  const sources: Record<string, string> = {};
  const tail = notInSegments(req.manifests, req.segments);
  const state = await segmentState(storage, req.segments, idsSince(tail, req.clientIdHorizonUs));
  // The newest version present; an empty window is written in the type's newest.
  const present = [...req.segments.map((g) => g.schemaVersion), ...tail.map((m) => m.manifest.version)];
  const schemaVersion = present.length > 0 ? Math.max(...present) : registry.require(req.ref.type).latest.version;
  // Segments become parts by a cheap copy; only a segment in an older schema is rewritten.
  const files: PartFile[] = [];
  let redelivered = 0;
  let clientRetries = 0;
  for (const segment of req.segments) {
    redelivered += segment.redelivered;
    clientRetries += segment.clientRetries;
    for (const [k, part] of segment.parts.entries()) {
      const name = `part-${attempt}-s${segment.n}-${String(k).padStart(5, '0')}.avro`;
      if (segment.schemaVersion === schemaVersion && segment.codec === req.codec) {
        files.push({ ...part, name, key: part.key });
      } else {
        files.push(await convertPart(storage, registry, { type: req.ref.type, from: segment.schemaVersion, to: schemaVersion, sourceKey: part.key, targetKey: work + name, codec: req.codec }));
      }
      sources[name] = files[files.length - 1]!.key;
    }
  }
  const written = new Map<string, WindowedRuns>();
  for (const [p, runs] of state.runs) written.set(p, WindowedRuns.of(runs.runs));
  // The closed window's client ids, for the late area: the chain's chunks, and the tail's below.
  const idChunks: ClientIdChunk[] = req.segments.flatMap((g) => (g.clientIds ? [g.clientIds] : []));
  if (tail.length > 0) {
    const result = await compactWindow(storage, registry, tail, {
      type: req.ref.type,
      window: req.ref.index,
      alreadyDelivered: state.runs,
      deliveredEventIds: state.clientIds,
      clientIdHorizonUs: req.clientIdHorizonUs,
      outPrefix: work,
      namePrefix: 'part',
      maxPartBytes: req.maxPartBytes,
      codec: req.codec,
      attempt,
      schemaVersion,
    });
    files.push(...result.files);
    for (const f of result.files) sources[f.name] = f.key;
    redelivered += result.redeliveredDropped;
    clientRetries += result.clientRetryDropped;
    const tailIds = describeChunk(tailIdsKey(req.ref, attempt), result.keptClientIds);
    if (tailIds) {
      await storage.createOnly(tailIds.key, encodeClientIds(result.keptClientIds));
      idChunks.push(tailIds);
    }
    for (const [p, runs] of result.written) runsOf(written, p).addAll(runs);
  }
  const target = registry.version(req.ref.type, schemaVersion);
  const publishers = req.proofs.map((proof) => {
    const runs = written.get(proof.publisher);
    const ranges = (runs?.runs ?? []).map((r) => [r.from, r.to] as [number, number]);
    return { ...proof, events: rangeTotal(ranges), ranges };
  });
  const events = files.reduce((n, f) => n + f.events, 0);
  // Each dead-lettered seq once (a message redelivered to two workers is noted twice); one that also arrived
  // in good shape (redriven before the close) counts as delivered only.
  const deadLettered: DeadLetteredSeqs[] = [];
  const noted = new Map<string, WindowedRuns>();
  for (const { note } of req.deadLetterNotes ?? []) {
    const delivered = written.get(note.publisher) ?? new WindowedRuns();
    const seen = runsOf(noted, note.publisher);
    const ranges = note.ranges
      .flatMap(([from, to]) => delivered.uncovered(from, to))
      .flatMap(([from, to]) => seen.uncovered(from, to));
    for (const [from, to] of ranges) seen.add(from, to, req.ref.index, req.ref.index);
    if (ranges.length > 0) deadLettered.push({ publisher: note.publisher, ranges, deadLetter: note.deadLetter, reason: note.reason });
  }
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
    deadLetteredEvents: deadLettered.reduce((n, d) => n + rangeTotal(d.ranges), 0),
    deadLettered,
    publishers,
    otherPublishersBounded: req.otherPublishersBounded ?? 0,
    files: files.map(({ key: _key, ...f }) => f),
    stagingFiles: req.manifests.map((m) => m.manifest.file),
    closeDelayMs: Math.max(0, req.nowMs() - windowEndMs),
    proofDelayMs: Math.max(0, provenAtMs - windowEndMs),
    closedAt: new Date(req.nowMs()).toISOString(),
    closer: req.closer,
    attempt,
  };
  const plan: ClosePlan = { attempt, sources };
  attemptKeys.push(...files.map((f) => f.key).filter((key) => key.startsWith(work)), `${work}plan.json`);
  await storage.createOnly(`${work}plan.json`, JSON.stringify(plan));
  // Before the commit point, so the winning manifest always has its index of client ids.
  await writeClosedClientIds(storage, req.ref, attempt, idChunks);
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  await storage.createOnly(dir + layout.manifestName, bytes); // the commit point
  return { manifest, plan, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Puts the manifest's files in place from its attempt's plan, removes any part it does not list, then writes _SUCCESS.
 * Idempotent. `ownPlan`: the caller's attempt just committed with this plan, so the folder holds only the manifest.
 */
async function finish(storage: Storage, ref: WindowRef, manifest: ClosedManifest, ownPlan?: ClosePlan): Promise<void> {
  const dir = layout.closed(ref);
  const listed = new Set(manifest.files.map((f) => f.name));
  const present = ownPlan ? new Set<string>() : new Set((await storage.list(dir)).map((o) => o.key.slice(dir.length)));
  const missing = manifest.files.filter((f) => !present.has(f.name));
  if (missing.length > 0) {
    const plan = ownPlan ?? (JSON.parse((await storage.get(`${closingPrefix(ref, manifest.attempt)}plan.json`)).toString('utf8')) as ClosePlan);
    // Copies are server-side (a hard link locally) and independent: several at once.
    await mapLimit(missing, COPIES_IN_PARALLEL, async (f) => {
      const source = plan.sources[f.name];
      if (!source) throw new Error(`${dir}${f.name}: listed in the manifest but not in its attempt's plan`);
      try {
        await storage.copy(source, dir + f.name);
      } catch (err) {
        if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err; // another checker put it in place
      }
    });
  }
  for (const name of present) {
    if (name.startsWith('part-') && !listed.has(name)) await storage.delete(dir + name);
  }
  try {
    await storage.createOnly(dir + layout.successName, JSON.stringify({ manifestAttempt: manifest.attempt, events: manifest.events, status: manifest.status }));
  } catch (err) {
    if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
  }
}
