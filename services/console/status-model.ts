// What the status page and `hourglass-events status` show: one snapshot of the bucket's recent windows, per type, as plain JSON.

/** open: still receiving; closing: ended, waiting for proof; closed: complete; incomplete: closed with gaps; unknown: only late events or dead letters are known. */
export type CellState = 'open' | 'closing' | 'closed' | 'incomplete' | 'unknown';

/** One event type in one window. */
export interface StatusCell {
  readonly type: string;
  readonly window: number;
  /** ISO start of the window. */
  readonly windowStart: string;
  /** Sortable window id, as in staging paths and /api/manifest/:type/:window (20261122T210000Z). */
  readonly windowId: string;
  readonly state: CellState;
  /** Events in the closed window (closed, incomplete). */
  readonly events?: number;
  /** Events staged so far (open, closing). */
  readonly stagedEvents?: number;
  /** From the window's end to its manifest (ms). */
  readonly closeDelayMs?: number;
  readonly lostEvents?: number;
  readonly abandonedEvents?: number;
  /** Events that arrived after the window closed (in late/…). */
  readonly lateEvents: number;
  /** Messages of this type dead-lettered for this window. */
  readonly deadLetters: number;
  /** Why a closing window still waits (from the checker). */
  readonly waitingOn?: readonly string[];
  /** The closed window's folder, bucket-relative. */
  readonly path: string;
  /** A _MANIFEST.json exists: /api/manifest/:type/:window has it. */
  readonly hasManifest: boolean;
  /** Where the state came from: a checker's status file, or the manifest itself. */
  readonly source: 'checker' | 'manifest' | 'bucket';
}

export interface StatusType {
  readonly name: string;
  readonly tier?: string;
  readonly owner?: string;
  /** In the console's registry (a type found only in the bucket is not). */
  readonly registered: boolean;
}

export interface CheckerSummary {
  readonly id: string;
  readonly updatedAt: string;
  /** How old its status file is (ms). */
  readonly ageMs: number;
  readonly windowS: number;
  /** Its latest round failures. */
  readonly errors: readonly string[];
}

export interface PublisherSummary {
  readonly id: string;
  readonly lastSeenMs: number;
  readonly final: boolean;
  readonly alive: boolean;
}

export interface StatusSnapshot {
  readonly generatedAt: string;
  readonly location: string;
  /** Window length (s): from the newest checker status, else the console's setting. */
  readonly windowS: number;
  /** The columns: every window of the range, oldest first (the last is the current one). */
  readonly windows: ReadonlyArray<{ readonly window: number; readonly windowStart: string; readonly windowId: string }>;
  readonly types: readonly StatusType[];
  /** Only cells with something to show. */
  readonly cells: readonly StatusCell[];
  readonly checkers: readonly CheckerSummary[];
  readonly publishers: readonly PublisherSummary[];
  /** Dead letters whose type is not a valid type name (deadletter/_unknown/), in the range. */
  readonly unknownTypeDeadLetters: number;
  /** Things an SRE should know about the snapshot itself (no checker status, stale status, unreadable files). */
  readonly notes: readonly string[];
}

/** A closed window in full, for a click on a cell. */
export interface WindowDetail {
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly windowStart: string;
  readonly path: string;
  /** _SUCCESS exists. */
  readonly success: boolean;
  /** The _MANIFEST.json, as written by the checker (undefined while the window is not closed). */
  readonly manifest?: unknown;
  readonly late: ReadonlyArray<{ readonly key: string; readonly events: number; readonly movedAt?: string; readonly publishers?: unknown }>;
  readonly deadLetters: ReadonlyArray<{ readonly key: string; readonly reason: string; readonly detail?: string; readonly messageId?: string; readonly at?: string }>;
}
