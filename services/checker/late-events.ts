// Moves events staged for an already-closed window to the late area, never into the closed window.
//
// Duplicates of what the closed window (or earlier late files) already holds are dropped, so an
// event ends in exactly one place: the same (publisher, seq), and, for messages that carry client
// ids, the same client id within the horizon (decided once per message: late-client-ids.ts). The
// staging files are removed once the late files are durable and `beforeRemoval` (the caller saving
// the coverage that now holds the moved seqs) has run.
import { mapLimit } from '../concurrency/map-limit.ts';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import { manifestKeyOf } from '../storage/staging-manifest.ts';
import type { StagedMessage } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import type { CodecName } from '../wire/codecs.ts';
import type { CoverageStore } from './coverage-store.ts';
import type { IndexedManifest } from './staging-index.ts';
import { LateClientIds, messageName } from './late-client-ids.ts';
import { describeParts } from './late-parts.ts';
import { compactWindow, type PartFile } from './window-compactor.ts';
import type { WindowedRuns } from './windowed-runs.ts';

/** Staged files removed at once after a close. */
const DELETES_IN_PARALLEL = 16;
/** Late staged files whose client-id records are decided together (one scan of the closed window's ids), at most this many events. */
const CLIENT_ID_EVENTS_PER_PASS = 100_000;

export interface LateResult {
  readonly events: number;
  /** Every copy dropped: redelivered seqs and client retries. */
  readonly duplicates: number;
  /** Of those, client retries (a client id the closed window or an earlier late file holds within the horizon). */
  readonly clientRetries: number;
}

export interface LateOptions {
  readonly maxPartBytes: number;
  readonly codec: CodecName;
  readonly closer: string;
  readonly nowMs: number;
  /** Client-id copies received at most this far apart are duplicates (µs). */
  readonly clientIdHorizonUs: number;
  /** The closed window's attempt (its manifest's `attempt`), which names the index of its client ids. */
  readonly closedAttempt: string;
  /** Runs before staged files are removed: the caller saves the coverage that now holds the moved seqs. */
  readonly beforeRemoval?: () => Promise<void>;
}

export async function moveLateEvents(
  storage: Storage,
  registry: Registry,
  coverage: CoverageStore,
  ref: WindowRef,
  manifests: readonly IndexedManifest[],
  options: LateOptions,
): Promise<LateResult> {
  let events = 0;
  let duplicates = 0;
  let clientRetries = 0;
  const clientIds = new LateClientIds(storage, registry, ref, { horizonUs: options.clientIdHorizonUs, checker: options.closer, nowMs: options.nowMs, closedAttempt: options.closedAttempt });
  // One late file per message, named by its (publisher, first seq, count): two checkers moving two
  // staged copies of the same message collide on a create-only name instead of writing it twice.
  for (const pass of clientIdPasses(manifests)) {
    // A staged file is removed only after all of its messages are in the late area: if it is gone, an
    // earlier removal was cut off before the manifest. Finish it.
    const present: IndexedManifest[] = [];
    for (const staged of pass) {
      if (await storage.stat(staged.manifest.file)) present.push(staged);
      else await removeStaged(storage, [staged]);
    }
    const alreadyDelivered = coverage.runs(ref.type);
    const undecided = present.flatMap(({ manifest }) => manifest.messages.filter((msg) => msg.clientIds && !alreadyDelivered.get(msg.publisher)?.covers(msg.firstSeq, msg.firstSeq + msg.count)).map((msg) => ({ manifest, msg })));
    if (undecided.length > 0) await clientIds.prepare(undecided);
    const prepared = new Set(undecided.map(({ msg }) => msg));
    for (const staged of present) {
      for (const msg of staged.manifest.messages) {
        const moved = await moveMessage(storage, registry, coverage, ref, staged, msg, prepared.has(msg) ? clientIds : undefined, options);
        for (const [publisher, runs] of moved.written) for (const r of runs.runs) coverage.add(ref.type, publisher, r.from, r.to, ref.index);
        events += moved.events;
        duplicates += moved.redeliveredDropped + moved.clientRetryDropped;
        clientRetries += moved.clientRetryDropped;
      }
    }
    // Once per pass, for all of them: the coverage is one object, which may be rewritten only once a second.
    if (present.length > 0) {
      await options.beforeRemoval?.();
      await removeStaged(storage, present);
    }
  }
  return { events, duplicates, clientRetries };
}

interface MovedMessage {
  readonly files: PartFile[];
  readonly events: number;
  readonly written: Map<string, WindowedRuns>;
  readonly schemaVersion: number;
  readonly redeliveredDropped: number;
  readonly clientRetryDropped: number;
}

/** Moves one staged message to its late file (part, then manifest), or finds it moved; returns what it holds and dropped. */
async function moveMessage(
  storage: Storage,
  registry: Registry,
  coverage: CoverageStore,
  ref: WindowRef,
  staged: IndexedManifest,
  msg: StagedMessage,
  clientIds: LateClientIds | undefined,
  options: LateOptions,
): Promise<MovedMessage> {
  const dir = layout.late(ref);
  const attempt = messageName(msg);
  const manifestKey = `${dir}late-${attempt}.manifest.json`;
  const nothing = { files: [], events: 0, written: new Map(), schemaVersion: staged.manifest.version };
  // Moved already, by another checker or by us before a crash: checked first, so an old move needs no decision.
  if (clientIds && (await storage.stat(manifestKey))) return { ...nothing, redeliveredDropped: msg.count, clientRetryDropped: 0 };
  const retries = clientIds ? await clientIds.decide(msg) : undefined;
  let result: MovedMessage;
  try {
    result = await compactWindow(storage, registry, [{ key: staged.key, manifest: { ...staged.manifest, messages: [msg] } }], {
      type: ref.type,
      window: ref.index,
      alreadyDelivered: coverage.runs(ref.type),
      ...(retries ? { clientRetriesDecided: (_publisher: string, seq: number) => retries.has(seq) } : {}),
      outPrefix: dir,
      namePrefix: 'late',
      maxPartBytes: options.maxPartBytes,
      codec: options.codec,
      attempt,
    });
  } catch (err) {
    if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
    if (await storage.stat(manifestKey)) return { ...nothing, redeliveredDropped: msg.count, clientRetryDropped: 0 };
    // The crash came between the part and its manifest: describe the part as it is and commit its
    // manifest, so no late file is ever left unlisted. (Its records are the decision's: it was committed first.)
    const partPrefix = `${dir}late-${attempt}-`;
    const parts = (await storage.list(partPrefix)).map((o) => o.key).filter((k) => /^\d{5}\.avro$/.test(k.slice(partPrefix.length)));
    const described = await describeParts(storage, registry, ref.type, staged.manifest.version, ref.index, parts);
    const delivered = coverage.runs(ref.type).get(msg.publisher);
    const clientRetryDropped = [...(retries ?? [])].filter((seq) => !delivered?.covers(seq, seq + 1)).length;
    result = { ...described, schemaVersion: staged.manifest.version, redeliveredDropped: Math.max(0, msg.count - described.events - clientRetryDropped), clientRetryDropped };
  }
  if (result.files.length > 0) {
    await storage
      .createOnly(
        manifestKey,
        JSON.stringify({
          format: 'hg-late-1',
          type: ref.type,
          window: ref.index,
          windowS: ref.lengthS,
          schemaVersion: result.schemaVersion,
          events: result.events,
          duplicatesDropped: result.redeliveredDropped + result.clientRetryDropped,
          clientRetriesDropped: result.clientRetryDropped,
          publishers: Object.fromEntries([...result.written].map(([p, runs]) => [p, runs.runs.map((r) => [r.from, r.to])])),
          files: result.files.map(({ key: _key, ...f }) => f),
          stagingFile: staged.manifest.file,
          movedAt: new Date(options.nowMs).toISOString(),
          closer: options.closer,
        }, null, 2),
      )
      .catch((err: unknown) => {
        if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
      });
  }
  return result;
}

/** Late staged files in passes: files with client-id messages are grouped so one pass decides at most CLIENT_ID_EVENTS_PER_PASS of their events. */
function clientIdPasses(manifests: readonly IndexedManifest[]): IndexedManifest[][] {
  const passes: IndexedManifest[][] = [];
  let pass: IndexedManifest[] = [];
  let idEvents = 0;
  for (const staged of manifests) {
    const n = staged.manifest.messages.reduce((sum, m) => sum + (m.clientIds ? m.count : 0), 0);
    if (pass.length > 0 && idEvents + n > CLIENT_ID_EVENTS_PER_PASS) {
      passes.push(pass);
      pass = [];
      idEvents = 0;
    }
    pass.push(staged);
    idEvents += n;
  }
  if (pass.length > 0) passes.push(pass);
  return passes;
}

/**
 * Deletes staged files whose events are durable elsewhere (a closed window or the late area): the file
 * first, then its manifest. A failure in between leaves a manifest naming a file that is gone; the
 * next round finds that manifest again and finishes the removal. (Manifest first would leave, after
 * such a failure, a file no manifest names, which nothing would ever remove.)
 */
export async function removeStaged(storage: Storage, manifests: readonly IndexedManifest[]): Promise<void> {
  await mapLimit(manifests, DELETES_IN_PARALLEL, async (m) => {
    await storage.delete(m.manifest.file);
    if (manifestKeyOf(m.manifest.file) !== m.key) await storage.delete(manifestKeyOf(m.manifest.file));
    await storage.delete(m.key);
  });
}
