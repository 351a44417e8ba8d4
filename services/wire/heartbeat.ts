// Heartbeats: what a publisher tells the checker every few seconds, and once more when it shuts down cleanly.
//
// Why a heartbeat bounds a window: the publisher stamps receive times and heartbeat times from one
// non-decreasing clock and reads next_seq in the same tick. So every event stamped before the
// heartbeat has seq < next_seq, and every event after it has receive time >= the heartbeat's time.
// A heartbeat with time >= the end of window W therefore proves that all of this publisher's events
// in W have seq < next_seq.

export interface TypeProgress {
  /** The seq the publisher will assign next: all seqs below it are assigned. */
  readonly nextSeq: number;
  /** Every seq below this was acknowledged by Pub/Sub (so it must never be missing), or is in `failed`. */
  readonly ackedBelow: number;
  /** [from, to) ranges whose publish failed for good: their callers were told, they will never arrive. */
  readonly failed?: ReadonlyArray<readonly [number, number]>;
}

export interface Heartbeat {
  readonly publisher: string;
  /** Publisher clock (UTC µs), from the same non-decreasing clock that stamps receive times. */
  readonly timeUs: number;
  /** When the publisher started (UTC µs): none of its events is older. */
  readonly startedUs: number;
  /** True for the last heartbeat of a clean shutdown: next_seq is final. */
  readonly final: boolean;
  readonly windowS: number;
  /** Per type the publisher has used (types it never used are absent: next_seq 0). */
  readonly types: Readonly<Record<string, TypeProgress>>;
  /** Free-form origin, e.g. "gateway@host" or "sdk@host"; for people, not for the close rule. */
  readonly origin: string;
}

export function encodeHeartbeat(hb: Heartbeat): Buffer {
  return Buffer.from(JSON.stringify(hb));
}

export type ParsedHeartbeat = { ok: true; value: Heartbeat } | { ok: false; reason: string };

export function parseHeartbeat(data: Buffer): ParsedHeartbeat {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `heartbeat is not JSON: ${(err as Error).message}` };
  }
  const o = raw as Partial<Record<keyof Heartbeat, unknown>>;
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof o !== 'object' || o === null) return { ok: false, reason: 'heartbeat must be an object' };
  if (typeof o.publisher !== 'string' || o.publisher === '') return { ok: false, reason: 'heartbeat "publisher" missing' };
  if (!isCount(o.timeUs) || !isCount(o.startedUs)) return { ok: false, reason: 'heartbeat "timeUs"/"startedUs" must be non-negative integers' };
  if (typeof o.final !== 'boolean') return { ok: false, reason: 'heartbeat "final" must be a boolean' };
  if (!isCount(o.windowS) || o.windowS === 0) return { ok: false, reason: 'heartbeat "windowS" must be a positive integer' };
  if (typeof o.types !== 'object' || o.types === null) return { ok: false, reason: 'heartbeat "types" must be an object' };
  for (const [type, p] of Object.entries(o.types as Record<string, Partial<TypeProgress>>)) {
    if (!isCount(p?.nextSeq) || !isCount(p?.ackedBelow) || p.ackedBelow > p.nextSeq) {
      return { ok: false, reason: `heartbeat progress for "${type}" must have 0 <= ackedBelow <= nextSeq` };
    }
    if (p.failed !== undefined && (!Array.isArray(p.failed) || !p.failed.every((r) => Array.isArray(r) && isCount(r[0]) && isCount(r[1]) && r[0] < r[1]))) {
      return { ok: false, reason: `heartbeat "failed" ranges for "${type}" must be [from, to) pairs` };
    }
  }
  return { ok: true, value: { ...(o as Heartbeat), origin: typeof o.origin === 'string' ? o.origin : '' } };
}
