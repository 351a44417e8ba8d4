// Proves what a benchmark's pipeline delivered: every acknowledged event exactly once in a complete closed window, read from the part files, and nothing in late/ or the dead letters.
//
// Only what a reader of the bucket sees counts: windows with _SUCCESS, their manifests, their part
// files. The manifests' claims are used to know when to look (cheap), never as the proof.
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { layout } from '../../services/storage/layout.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { STAGING_MANIFEST_SUFFIX } from '../../services/storage/staging-manifest.ts';
import { readPartIdentities } from './closed-part-reader.ts';
import { mustBeZero, type BenchResult } from './results.ts';
import { SeqLedger } from './seq-ledger.ts';

/** Seqs [0, events) of `publisher`'s `type` stream were acknowledged to it. */
export interface Acknowledged {
  readonly type: string;
  readonly publisher: string;
  readonly events: number;
}

export interface ClosedWindow {
  readonly type: string;
  readonly index: number;
  /** Folder of the window, ending in "/". */
  readonly dir: string;
  /** When _SUCCESS was written (ms since epoch): when the window became readable. */
  readonly successMs: number;
  readonly manifest: ClosedManifest;
}

export interface ClosedAudit {
  readonly windows: readonly ClosedWindow[];
  /** Records read from the part files. */
  readonly records: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly unexpected: number;
  /** Records whose receive time lies outside their window. */
  readonly misplaced: number;
  /** Windows closed incomplete, or whose manifest counts lost events. */
  readonly incompleteWindows: number;
  /** Windows whose manifest's event count differs from the records in their part files. */
  readonly miscountedWindows: number;
  /** Events the manifests count as lost. */
  readonly lostEvents: number;
  /** Objects in late/ (counted as a problem unless the audit counts late events). */
  readonly lateObjects: number;
  /** Records read from late part files (only when the audit counts late events). */
  readonly lateEvents: number;
  readonly deadLetterObjects: number;
  /** What went wrong, for the failure's message. */
  readonly problems: string[];
}

/** Every closed window (with _SUCCESS) of `types`; `known` windows (by folder) are not read again. */
export async function listClosedWindows(storage: Storage, types: readonly string[], known = new Map<string, ClosedWindow>()): Promise<ClosedWindow[]> {
  for (const type of types) {
    for (const o of await storage.list(layout.closedType(type))) {
      if (!o.key.endsWith(`/${layout.successName}`)) continue;
      const dir = o.key.slice(0, -layout.successName.length);
      if (known.has(dir)) continue;
      const manifest = JSON.parse((await storage.get(dir + layout.manifestName)).toString('utf8')) as ClosedManifest;
      known.set(dir, { type, index: manifest.window, dir, successMs: o.updatedMs, manifest });
    }
  }
  return [...known.values()];
}

/**
 * Waits until the closed windows' manifests claim every acknowledged event, something lands in late/
 * or the dead letters (the audit will say what), or `timeoutMs` passes (the audit counts the missing
 * events, and the note says what staging still held).
 */
export async function waitForClosedClaims(storage: Storage, acknowledged: readonly Acknowledged[], timeoutMs: number, options: AuditOptions = {}): Promise<{ windows: ClosedWindow[]; note?: string }> {
  const types = [...new Set(acknowledged.map((a) => a.type))];
  const known = new Map<string, ClosedWindow>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const windows = await listClosedWindows(storage, types, known);
    const claimed = new Map<string, number>();
    const claim = (type: string, publisher: string, events: number) => claimed.set(`${type} ${publisher}`, (claimed.get(`${type} ${publisher}`) ?? 0) + events);
    for (const w of windows) for (const p of w.manifest.publishers) claim(w.type, p.publisher, p.events);
    if (options.countLate) for (const m of await listLateManifests(storage)) for (const [p, runs] of Object.entries(m.manifest.publishers)) claim(m.manifest.type, p, runs.reduce((n, [from, to]) => n + to - from, 0));
    if (acknowledged.every((a) => (claimed.get(`${a.type} ${a.publisher}`) ?? 0) >= a.events)) return { windows };
    if ((!options.countLate && (await storage.list('late/')).length > 0) || (await storage.list(layout.deadletterRoot)).length > 0) return { windows };
    if (Date.now() >= deadline) {
      const staged = (await storage.list(layout.stagingRoot)).filter((o) => o.key.endsWith(STAGING_MANIFEST_SUFFIX));
      const short = acknowledged.filter((a) => (claimed.get(`${a.type} ${a.publisher}`) ?? 0) < a.events).map((a) => `${a.type} ${a.publisher}: ${claimed.get(`${a.type} ${a.publisher}`) ?? 0} of ${a.events} claimed`);
      return { windows, note: `after ${Math.round(timeoutMs / 1000)} s the closed manifests do not claim every acknowledged event (${short.join('; ')}); staging still holds ${staged.length} staged files, e.g. ${staged.slice(0, 3).map((o) => o.key).join(', ')}` };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface AuditOptions {
  /**
   * Events moved to late/ count as delivered (read from the late part files their manifests list) rather
   * than as a problem: for a benchmark whose claim is "every event in exactly one closed window or the late area".
   */
  readonly countLate?: boolean;
}

/** A late file's manifest (services/checker/late-events.ts), the fields the audit reads. */
interface LateManifest {
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly publishers: Readonly<Record<string, ReadonlyArray<[number, number]>>>;
  readonly files: ReadonlyArray<{ name: string }>;
}

async function listLateManifests(storage: Storage): Promise<Array<{ dir: string; manifest: LateManifest }>> {
  const out: Array<{ dir: string; manifest: LateManifest }> = [];
  for (const o of await storage.list('late/')) {
    if (!o.key.endsWith('.manifest.json')) continue;
    out.push({ dir: o.key.slice(0, o.key.lastIndexOf('/') + 1), manifest: JSON.parse((await storage.get(o.key)).toString('utf8')) as LateManifest });
  }
  return out;
}

/** Reads every part file of `windows` (and, counting late events, of late/) and compares what they hold with `acknowledged`, per publisher and seq. */
export async function auditClosed(storage: Storage, windows: readonly ClosedWindow[], acknowledged: readonly Acknowledged[], options: AuditOptions = {}): Promise<ClosedAudit> {
  const ledger = new SeqLedger();
  const problems: string[] = [];
  let records = 0;
  let misplaced = 0;
  let incompleteWindows = 0;
  let miscountedWindows = 0;
  let lostEvents = 0;
  for (const w of windows) {
    const m = w.manifest;
    lostEvents += m.lostEvents;
    if (m.status !== 'complete' || m.lostEvents !== 0) {
      incompleteWindows++;
      problems.push(`${w.dir} closed ${m.status} with ${m.lostEvents} lost events: ${m.reason}`);
    }
    let inWindow = 0;
    for (const f of m.files) {
      const read = await readPartIdentities(storage, w.dir + f.name, w.type, { index: w.index, lengthS: m.windowS }, ledger);
      inWindow += read.records;
      misplaced += read.misplaced;
      if (read.misplaced > 0) problems.push(`${w.dir}${f.name}: ${read.misplaced} records received outside the window`);
    }
    if (inWindow !== m.events) {
      miscountedWindows++;
      problems.push(`${w.dir}: the manifest counts ${m.events} events, its part files hold ${inWindow}`);
    }
    records += inWindow;
  }
  let lateEvents = 0;
  if (options.countLate) {
    for (const { dir, manifest: m } of await listLateManifests(storage)) {
      for (const f of m.files) {
        const read = await readPartIdentities(storage, dir + f.name, m.type, { index: m.window, lengthS: m.windowS }, ledger);
        lateEvents += read.records;
        misplaced += read.misplaced;
        if (read.misplaced > 0) problems.push(`${dir}${f.name}: ${read.misplaced} late records received outside their window`);
      }
    }
  }
  const tally = ledger.compare(acknowledged);
  problems.push(...tally.examples);
  const late = options.countLate ? [] : await storage.list('late/');
  const deadLetters = await storage.list(layout.deadletterRoot);
  if (late.length > 0) problems.push(`late/ holds ${late.length} objects, e.g. ${late[0]!.key}`);
  if (deadLetters.length > 0) problems.push(`${layout.deadletterRoot} holds ${deadLetters.length} objects, e.g. ${deadLetters[0]!.key}`);
  return {
    windows,
    records,
    missing: tally.missing,
    duplicates: tally.duplicates,
    unexpected: tally.unexpected,
    misplaced,
    incompleteWindows,
    miscountedWindows,
    lostEvents,
    lateObjects: late.length,
    lateEvents,
    deadLetterObjects: deadLetters.length,
    problems,
  };
}

/** The audit as must-be-0 figures named `<prefix>_…`. */
export function auditFigures(prefix: string, audit: ClosedAudit): BenchResult[] {
  return [
    mustBeZero(`${prefix}_missing_events`, audit.missing, 'acknowledged events in no closed window (read from the part files, per publisher and seq)'),
    mustBeZero(`${prefix}_duplicate_events`, audit.duplicates, 'extra copies of acknowledged events in closed windows'),
    mustBeZero(`${prefix}_unexpected_events`, audit.unexpected + audit.misplaced, 'records in closed windows that no publisher acknowledged, or outside their window'),
    mustBeZero(`${prefix}_lost_events`, audit.lostEvents, "events the closed windows' manifests count as lost"),
    mustBeZero(`${prefix}_incomplete_windows`, audit.incompleteWindows + audit.miscountedWindows, 'windows closed incomplete or with lost events, or whose manifest miscounts its part files'),
    mustBeZero(`${prefix}_late_objects`, audit.lateObjects + audit.deadLetterObjects, 'objects in late/ and deadletter/'),
  ];
}

/** Two audits as one (two runs of a benchmark checked together). */
export function sumAudits(a: ClosedAudit, b: ClosedAudit): ClosedAudit {
  return {
    windows: [...a.windows, ...b.windows],
    records: a.records + b.records,
    missing: a.missing + b.missing,
    duplicates: a.duplicates + b.duplicates,
    unexpected: a.unexpected + b.unexpected,
    misplaced: a.misplaced + b.misplaced,
    incompleteWindows: a.incompleteWindows + b.incompleteWindows,
    miscountedWindows: a.miscountedWindows + b.miscountedWindows,
    lostEvents: a.lostEvents + b.lostEvents,
    lateObjects: a.lateObjects + b.lateObjects,
    lateEvents: a.lateEvents + b.lateEvents,
    deadLetterObjects: a.deadLetterObjects + b.deadLetterObjects,
    problems: [...a.problems, ...b.problems],
  };
}
