// Moves events staged for an already-closed window to the late area, never into the closed window.
//
// Duplicates of what the closed window (or earlier late files) already holds are dropped, so an
// event ends in exactly one place; the staging files are removed once the late files are durable and
// `beforeRemoval` (the caller saving the coverage that now holds the moved seqs) has run.
import { mapLimit } from '../concurrency/map-limit.ts';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import { manifestKeyOf } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import type { CodecName } from '../wire/codecs.ts';
import type { CoverageStore } from './coverage-store.ts';
import type { IndexedManifest } from './staging-index.ts';
import { describeParts } from './late-parts.ts';
import { compactWindow, type PartFile } from './window-compactor.ts';
import type { WindowedRuns } from './windowed-runs.ts';

/** Staged files removed at once after a close. */
const DELETES_IN_PARALLEL = 16;

export interface LateResult {
  readonly events: number;
  readonly duplicates: number;
}

export async function moveLateEvents(
  storage: Storage,
  registry: Registry,
  coverage: CoverageStore,
  ref: WindowRef,
  manifests: readonly IndexedManifest[],
  options: { maxPartBytes: number; codec: CodecName; closer: string; nowMs: number; beforeRemoval?: () => Promise<void> },
): Promise<LateResult> {
  const dir = layout.late(ref);
  let events = 0;
  let duplicates = 0;
  const moved: IndexedManifest[] = [];
  // One late file per message, named by its (publisher, first seq, count): two checkers moving two
  // staged copies of the same message collide on a create-only name instead of writing it twice.
  for (const staged of manifests) {
    // A staged file is removed only after all of its messages are in the late area: if it is gone, an
    // earlier removal was cut off before the manifest. Finish it.
    if (!(await storage.stat(staged.manifest.file))) {
      await removeStaged(storage, [staged]);
      continue;
    }
    for (const msg of staged.manifest.messages) {
      const attempt = `${msg.publisher}-${msg.firstSeq}-${msg.count}`;
      const manifestKey = `${dir}late-${attempt}.manifest.json`;
      let result: { files: PartFile[]; events: number; written: Map<string, WindowedRuns>; schemaVersion: number; redeliveredDropped: number; clientRetryDropped: number };
      try {
        result = await compactWindow(storage, registry, [{ key: staged.key, manifest: { ...staged.manifest, messages: [msg] } }], {
          type: ref.type,
          window: ref.index,
          alreadyDelivered: coverage.runs(ref.type),
          outPrefix: dir,
          namePrefix: 'late',
          maxPartBytes: options.maxPartBytes,
          codec: options.codec,
          attempt,
        });
      } catch (err) {
        if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
        // Moved already, by another checker or by us before a crash.
        if (await storage.stat(manifestKey)) {
          duplicates += msg.count;
          continue;
        }
        // The crash came between the part and its manifest: describe the part as it is and commit its
        // manifest, so no late file is ever left unlisted.
        const partPrefix = `${dir}late-${attempt}-`;
        const parts = (await storage.list(partPrefix)).map((o) => o.key).filter((k) => /^\d{5}\.avro$/.test(k.slice(partPrefix.length)));
        const described = await describeParts(storage, registry, ref.type, staged.manifest.version, ref.index, parts);
        result = { ...described, schemaVersion: staged.manifest.version, redeliveredDropped: msg.count - described.events, clientRetryDropped: 0 };
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
      for (const [publisher, runs] of result.written) for (const r of runs.runs) coverage.add(ref.type, publisher, r.from, r.to, ref.index);
      events += result.events;
      duplicates += result.redeliveredDropped + result.clientRetryDropped;
    }
    moved.push(staged);
  }
  // Once, for all of them: the coverage is one object, which may be rewritten only once a second.
  if (moved.length > 0) {
    await options.beforeRemoval?.();
    await removeStaged(storage, moved);
  }
  return { events, duplicates };
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
