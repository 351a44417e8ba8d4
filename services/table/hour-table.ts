// Reads and writes what the table committer keeps in the table itself: the proof of each committed window (in its snapshot's summary) and how far every window is closed (a table property).
//
// The table is its own ledger, so no other state can disagree with it: a window is committed exactly
// when a snapshot's summary names it, or when it lies in [`hourglass.first-window`,
// `hourglass.closed-through`), a range that only grows over committed windows (so a window stays known
// as committed after table maintenance expired its snapshot). The range starts at the table's first
// committed window, not at the beginning of time: a window that closes later but ended earlier (one that
// waited out its max wait while later ones closed) is outside it until committed, never taken as done.
import type { WindowClosedEvent } from '../wire/window-closed-event.ts';
import type { Snapshot, TableMetadata } from './rest-catalog.ts';

export const SUMMARY = {
  window: 'hourglass.window',
  windowEnd: 'hourglass.window-end',
  status: 'hourglass.status',
  reason: 'hourglass.reason',
  records: 'hourglass.records',
  lost: 'hourglass.lost-events',
  abandoned: 'hourglass.abandoned-events',
  deadLettered: 'hourglass.dead-lettered-events',
  manifest: 'hourglass.manifest',
  manifestSha256: 'hourglass.manifest-sha256',
  closedAt: 'hourglass.closed-at',
  committer: 'hourglass.committer',
} as const;

export const PROPERTY = {
  firstWindow: 'hourglass.first-window',
  closedThrough: 'hourglass.closed-through',
  windowS: 'hourglass.window-s',
} as const;

/** The snapshot that committed the window starting at `windowStart`, if the table still has it. */
export function snapshotOfWindow(metadata: TableMetadata, windowStart: string): Snapshot | undefined {
  return metadata.snapshots?.find((s) => s.summary[SUMMARY.window] === windowStart);
}

/** True when the window is committed: a snapshot names it, or it lies in [first-window, closed-through). */
export function isCommitted(metadata: TableMetadata, event: Pick<WindowClosedEvent, 'windowStart' | 'windowEnd'>): boolean {
  if (snapshotOfWindow(metadata, event.windowStart)) return true;
  const first = metadata.properties?.[PROPERTY.firstWindow];
  const through = metadata.properties?.[PROPERTY.closedThrough];
  return first !== undefined && through !== undefined && Date.parse(event.windowStart) >= Date.parse(first) && Date.parse(event.windowEnd) <= Date.parse(through);
}

/** The summary of the snapshot committing `event`'s window: its proof, in strings as Iceberg requires. */
export function proofSummary(event: WindowClosedEvent, committer: string): Record<string, string> {
  return {
    [SUMMARY.window]: event.windowStart,
    [SUMMARY.windowEnd]: event.windowEnd,
    [SUMMARY.status]: event.status,
    [SUMMARY.reason]: event.reason,
    [SUMMARY.records]: String(event.events),
    [SUMMARY.lost]: String(event.lostEvents),
    [SUMMARY.abandoned]: String(event.abandonedEvents),
    [SUMMARY.deadLettered]: String(event.deadLetteredEvents),
    [SUMMARY.manifest]: event.manifest.uri,
    [SUMMARY.manifestSha256]: event.manifest.sha256,
    [SUMMARY.closedAt]: event.closedAt,
    [SUMMARY.committer]: committer,
  };
}

/**
 * The table's range of committed windows once `event` is: `firstWindow`, the start of its first committed
 * window (kept once set), and `closedThrough`, the end of the newest window such that every window from
 * `firstWindow` to it is committed (moved forward over consecutive committed windows).
 */
export function committedRangeAfter(metadata: TableMetadata, event: Pick<WindowClosedEvent, 'windowStart' | 'windowS'>): { firstWindow: string; closedThrough: string } {
  const stepMs = event.windowS * 1000;
  const starts = new Set<number>([Date.parse(event.windowStart)]);
  for (const s of metadata.snapshots ?? []) {
    const w = s.summary[SUMMARY.window];
    if (w !== undefined) starts.add(Date.parse(w));
  }
  const first = metadata.properties?.[PROPERTY.firstWindow] ?? event.windowStart;
  const current = metadata.properties?.[PROPERTY.closedThrough];
  let cursor = Date.parse(current ?? first);
  while (starts.has(cursor)) cursor += stepMs;
  return { firstWindow: first, closedThrough: new Date(cursor).toISOString() };
}
