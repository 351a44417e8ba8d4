// The _MANIFEST.json of a closed window: what it holds, how it was proven complete, and what is missing.
import type { PartFile } from './window-compactor.ts';
import type { PublisherProof } from './close-rule.ts';

export const CLOSED_MANIFEST_FORMAT = 'hg-closed-1';

export interface ClosedPublisher extends PublisherProof {
  readonly events: number;
  /** Seq ranges [from, to) of this publisher's events in the window. */
  readonly ranges: Array<[number, number]>;
}

/** Seqs of the window a worker dead-lettered (a refused record, or a whole message it could not stage), and where they are. */
export interface DeadLetteredSeqs {
  readonly publisher: string;
  /** Seq ranges [from, to): accounted for by the dead letter, not delivered in this window. */
  readonly ranges: Array<[number, number]>;
  /** Key of the dead letter holding the message (`hourglass-events redrive` can put it back once its cause is fixed). */
  readonly deadLetter: string;
  readonly reason: string;
}

export interface ClosedManifest {
  readonly format: typeof CLOSED_MANIFEST_FORMAT;
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly windowStart: string;
  readonly windowEnd: string;
  /** complete: every acknowledged event is here or, listed in deadLettered, in the dead-letter area. incomplete: closed after the max wait with lost events listed. */
  readonly status: 'complete' | 'incomplete';
  readonly reason: string;
  readonly schemaVersion: number;
  readonly schema: unknown;
  readonly codec: string;
  readonly events: number;
  readonly duplicatesDropped: { readonly redelivered: number; readonly clientRetries: number };
  readonly lostEvents: number;
  readonly abandonedEvents: number;
  /** Events of this window that went to the dead-letter area (absent in manifests of older checkers). */
  readonly deadLetteredEvents?: number;
  readonly deadLettered?: DeadLetteredSeqs[];
  /** The publishers holding seqs of this type (or silent, or dead), each with its proof. */
  readonly publishers: ClosedPublisher[];
  /** Publishers also bounded past the window's end that never stamped a seq of this type, so not listed (absent in older manifests). */
  readonly otherPublishersBounded?: number;
  readonly files: Array<Omit<PartFile, 'key'>>;
  readonly stagingFiles: string[];
  /** From the window's end to this manifest (ms). */
  readonly closeDelayMs: number;
  /** Of closeDelayMs, how long until the close rule held (ms); the rest is writing. Absent in manifests of older checkers. */
  readonly proofDelayMs?: number;
  readonly closedAt: string;
  readonly closer: string;
  readonly attempt: string;
}

export function rangeTotal(ranges: ReadonlyArray<readonly [number, number]>): number {
  return ranges.reduce((n, [a, b]) => n + (b - a), 0);
}
