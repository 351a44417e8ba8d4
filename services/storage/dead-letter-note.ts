// The note a worker leaves in a window's staging when it dead-letters seqs of that window: so the proof accounts for them.
//
// A dead-lettered event was acknowledged by Pub/Sub, so without a note its seq is a gap below the
// publisher's acknowledged mark: the window would wait the max wait and close incomplete, calling
// "lost" an event that sits in deadletter/. The worker writes the dead letter first, then this note
// (create-only, beside the window's staged files, so the checker's one listing finds it), then acks.
// The checker counts the noted seqs as accounted for (not delivered: a redrive must still land them),
// lists them in the closed manifest with the dead letter's key, and removes the note with the staging.
import { layout, type WindowRef } from './layout.ts';

export const DEAD_LETTER_NOTE_FORMAT = 'hg-deadletter-note-1';
export const DEAD_LETTER_NOTE_SUFFIX = '.deadletter.json';

export interface DeadLetterNote {
  readonly format: typeof DEAD_LETTER_NOTE_FORMAT;
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly publisher: string;
  /** Seq ranges [from, to) that went to the dead letter. */
  readonly ranges: Array<[number, number]>;
  /** Key of the dead letter holding the message verbatim. */
  readonly deadLetter: string;
  /** The dead letter's reason code. */
  readonly reason: string;
  readonly messageId: string;
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  readonly worker: string;
  /** Worker wall clock when the note was written (UTC µs). */
  readonly writtenAtUs: number;
}

/** One note per message and worker: a redelivery to the same worker finds its note already there. */
export function deadLetterNoteKey(ref: WindowRef, worker: string, safeMessageId: string): string {
  return `${layout.staging(ref)}${worker}-${safeMessageId}${DEAD_LETTER_NOTE_SUFFIX}`;
}

/** Parses a note; throws with the key named when it is not one. */
export function parseDeadLetterNote(key: string, bytes: Buffer): DeadLetterNote {
  const n = JSON.parse(bytes.toString('utf8')) as DeadLetterNote;
  const rangesOk = Array.isArray(n.ranges) && n.ranges.every((r) => Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]) && r[0] >= 0 && r[1] > r[0]);
  if (n.format !== DEAD_LETTER_NOTE_FORMAT || typeof n.publisher !== 'string' || !rangesOk || typeof n.deadLetter !== 'string') {
    throw new Error(`${key}: not a ${DEAD_LETTER_NOTE_FORMAT} dead-letter note`);
  }
  return n;
}

/** Events a note accounts for. */
export function noteEvents(n: DeadLetterNote): number {
  return n.ranges.reduce((s, [a, b]) => s + (b - a), 0);
}
