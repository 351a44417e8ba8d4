// Keeps the good records of a message whose proof failed: one client's bad value must never cost the others' events.
//
// The edge (SDK, gateway) refuses every value the worker would, so a message with a refused record
// comes only from a publisher that skipped those checks (an older SDK, another language, a bug). A
// skipper without value rules finds where each record ends; when the body is exactly `count` such
// records, each is proved alone with the full rules. The good ones are kept as runs of consecutive
// seqs (a run is one block: seqs in a block are contiguous), the refused ones named by seq and reason.
// When the structure itself is broken (a bad length, union branch or count), nothing can be told apart:
// the whole message is refused, as before.
import type { Skipper } from '../wire/record-skipper.ts';
import { CorruptRecordError } from '../wire/record-skipper.ts';

export interface KeptRun {
  /** Seq of the run's first record. */
  readonly firstSeq: number;
  readonly count: number;
  /** The run's records, uncompressed, exactly as they were in the message. */
  readonly datums: Buffer;
}

export interface RefusedRecord {
  readonly seq: number;
  readonly reason: string;
}

export interface Salvage {
  readonly kept: KeptRun[];
  readonly refused: RefusedRecord[];
}

/**
 * Splits `datums` into `count` records with `structural` and proves each with `strict`; undefined when the
 * body is not exactly `count` records even structurally. Terminates: every record read advances, or stops.
 */
export function salvageRecords(strict: Skipper, structural: Skipper, datums: Buffer, firstSeq: number, count: number): Salvage | undefined {
  const ends: number[] = [];
  let pos = 0;
  try {
    for (let i = 0; i < count; i++) {
      const next = structural(datums, pos);
      if (next <= pos) return undefined; // zero-byte records: a schema with no refusable value
      ends.push(next);
      pos = next;
    }
  } catch (err) {
    if (err instanceof CorruptRecordError) return undefined;
    throw err;
  }
  if (pos !== datums.length) return undefined;

  const kept: KeptRun[] = [];
  const refused: RefusedRecord[] = [];
  let runStart = -1;
  const closeRun = (endIndex: number) => {
    if (runStart < 0) return;
    const from = runStart === 0 ? 0 : ends[runStart - 1]!;
    kept.push({ firstSeq: firstSeq + runStart, count: endIndex - runStart, datums: datums.subarray(from, ends[endIndex - 1]!) });
    runStart = -1;
  };
  for (let i = 0; i < count; i++) {
    const from = i === 0 ? 0 : ends[i - 1]!;
    const record = datums.subarray(from, ends[i]!);
    const reason = refusal(strict, record);
    if (reason === undefined) {
      if (runStart < 0) runStart = i;
    } else {
      closeRun(i);
      refused.push({ seq: firstSeq + i, reason });
    }
  }
  closeRun(count);
  return { kept, refused };
}

/** Why the full rules refuse one record's bytes, or undefined when they accept all of them. */
function refusal(strict: Skipper, record: Buffer): string | undefined {
  try {
    const end = strict(record, 0);
    return end === record.length ? undefined : `the record ends at byte ${end} of ${record.length}`;
  } catch (err) {
    if (err instanceof CorruptRecordError) return err.message;
    throw err;
  }
}
