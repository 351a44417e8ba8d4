// The record that a dead letter was redriven: one create-only object per message under deadletter/<type>/redriven/, written only after Pub/Sub acknowledged the republish.
//
// Why a marker and not a move: the dead letter stays where it was, byte for byte, for audit, and
// nothing is deleted to record progress. Why create-only: two redrives racing on one dead letter both
// publish (harmless, see redrive.ts) and exactly one marker is written. The markers live in a tree of
// their own, so readers of deadletter/<type>/dt=…/ (the console, the status command) never mistake one
// for a dead letter.
//
//   deadletter/<type>/dt=D/hour=H/<id>.json            → deadletter/<type>/redriven/dt=D/hour=H/<id>.json
//   deadletter/<type>/undeliverable/<file> (message M) → deadletter/<type>/redriven/undeliverable/<file>/<M>.json
import { hasCode } from '../../errors/catalogue.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { safeName } from '../../worker/dead-letter.ts';

export interface RedriveMarker {
  readonly format: 'hg-redriven-1';
  /** The dead letter: its object, and the message within it for an undeliverable archive. */
  readonly deadLetter: string;
  readonly messageId: string | undefined;
  readonly reason: string;
  /** When it was dead-lettered (ISO 8601), if known: what --since and --until select by. */
  readonly deadLetteredAt: string | undefined;
  /** The topic it was republished to, and when Pub/Sub acknowledged it (ISO 8601). */
  readonly topic: string;
  readonly acknowledgedAt: string;
  /** True when it was republished although the worker's validation refused it (--force). */
  readonly forced: boolean;
}

/** The marker key of the dead letter at `deadLetterKey` of folder `type` (`message` names one message of an archive file). */
export function markerKeyOf(type: string, deadLetterKey: string, message?: string): string {
  const typeDir = layout.deadletterType(type);
  if (!deadLetterKey.startsWith(typeDir)) throw new Error(`${deadLetterKey} is not under ${typeDir}`);
  const rest = deadLetterKey.slice(typeDir.length);
  return `${layout.deadletterRedriven(type)}${rest}${message === undefined ? '' : `/${safeName(message)}.json`}`;
}

/** Says that every message of an undeliverable archive file was redriven, so later runs need not read the file again. */
export interface ArchiveCompleteMarker {
  readonly format: 'hg-redriven-archive-1';
  readonly deadLetter: string;
  readonly messages: number;
  readonly completedAt: string;
}

/** Writes the marker; true when this call wrote it, false when one was there already (another redrive got there first). */
export async function writeMarker(storage: Storage, key: string, marker: RedriveMarker | ArchiveCompleteMarker): Promise<boolean> {
  try {
    await storage.createOnly(key, JSON.stringify(marker));
    return true;
  } catch (err) {
    if (hasCode(err, 'HG_STORAGE_EXISTS')) return false;
    throw err;
  }
}
