// The arguments of `hourglass-events redrive`, checked once: which dead letters (type, source, reason, time range, limit) and what to do with them.
import { DEAD_LETTER_REASONS } from '../../worker/message-validator.ts';
import { positiveInt, type ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { UsageError } from '../cli-error.ts';
import { parseWindowArg } from '../window-arg.ts';

/** Where a dead letter came from: the worker's refusals, or Pub/Sub's Cloud Storage archive of what it could not deliver. */
export type DeadLetterSource = 'worker' | 'undeliverable';

/** The reason an undeliverable message is listed under (Pub/Sub gives none). */
export const UNDELIVERABLE_REASON = 'undeliverable';

export interface RedriveRequest {
  /** Only this type; undefined for every type in the dead-letter area. */
  readonly type: string | undefined;
  readonly sources: ReadonlySet<DeadLetterSource>;
  /** Only these reasons (worker reason codes, or "undeliverable"); undefined for any. */
  readonly reasons: ReadonlySet<string> | undefined;
  /** Dead-lettered at or after this time (ms since the epoch). */
  readonly sinceMs: number | undefined;
  /** Dead-lettered before this time (ms since the epoch). */
  readonly untilMs: number | undefined;
  /** At most this many dead letters not yet redriven are taken, oldest first. */
  readonly limit: number;
  readonly dryRun: boolean;
  /** Republish even what the worker's validation refuses. */
  readonly force: boolean;
  /** Delete each dead letter once its republish is acknowledged and marked (default: keep it, for audit). */
  readonly deleteAfter: boolean;
  readonly json: boolean;
}

const COMMAND = 'redrive';
const REASONS: readonly string[] = [...DEAD_LETTER_REASONS, UNDELIVERABLE_REASON];
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseRedriveArgs(ctx: CliContext, cmd: ParsedCommandLine, nowMs: number): RedriveRequest {
  const o = cmd.options;
  const type = o.type === undefined ? undefined : ctx.typeArg(o.type, COMMAND);
  const source = o.source ?? 'both';
  if (source !== 'worker' && source !== 'undeliverable' && source !== 'both') {
    throw new UsageError(`--source must be worker, undeliverable or both, got ${JSON.stringify(source)}`, COMMAND);
  }
  let reasons: Set<string> | undefined;
  if (o.reason !== undefined) {
    reasons = new Set(o.reason.split(',').map((r) => r.trim()));
    for (const r of reasons) if (!REASONS.includes(r)) throw new UsageError(`--reason ${JSON.stringify(r)} is not a dead-letter reason (one of: ${REASONS.join(', ')})`, COMMAND);
  }
  let sinceMs: number | undefined;
  let untilMs: number | undefined;
  if (o.hour !== undefined) {
    if (o.since !== undefined || o.until !== undefined) throw new UsageError('--hour cannot be combined with --since or --until', COMMAND);
    sinceMs = parseWindowArg(o.hour, 3600, COMMAND) * 3_600_000;
    untilMs = sinceMs + 3_600_000;
  } else {
    sinceMs = o.since === undefined ? undefined : parseInstant('since', o.since, nowMs);
    untilMs = o.until === undefined ? undefined : parseInstant('until', o.until, nowMs);
    if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) {
      throw new UsageError(`--since (${new Date(sinceMs).toISOString()}) must be before --until (${new Date(untilMs).toISOString()})`, COMMAND);
    }
  }
  if (o['dry-run'] && o.delete) throw new UsageError('--delete cannot be combined with --dry-run', COMMAND);
  return {
    type,
    sources: new Set<DeadLetterSource>(source === 'both' ? ['worker', 'undeliverable'] : [source]),
    reasons,
    sinceMs,
    untilMs,
    limit: positiveInt('limit', o.limit, Number.MAX_SAFE_INTEGER, COMMAND),
    dryRun: o['dry-run'] ?? false,
    force: o.force ?? false,
    deleteAfter: o.delete ?? false,
    json: o.json ?? false,
  };
}

/** A time: ISO 8601 in UTC unless it says otherwise (2026-11-22T21:30:00Z), an hour (2026-11-22T21), or a duration ago (90m, 6h, 7d). */
export function parseInstant(name: string, text: string, nowMs: number): number {
  const ago = /^(\d{1,9})([smhd])$/.exec(text);
  if (ago) return nowMs - Number(ago[1]) * UNIT_MS[ago[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}[T/]\d{2}$/.test(text)) return parseWindowArg(text, 3600, COMMAND) * 3_600_000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|([+-])(\d{2}):(\d{2}))?$/.exec(text);
  if (m) {
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
    const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(asUtc);
    // Date.UTC rolls 2026-02-30 over into March: refuse a time that does not exist instead.
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && back.getUTCHours() === h && back.getUTCMinutes() === mi && back.getUTCSeconds() === s) {
      const offsetMin = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
      return asUtc + Math.floor(Number(m[7] ?? 0) * 1000) - offsetMin * 60_000;
    }
  }
  throw new UsageError(`--${name} ${JSON.stringify(text)}: expected a UTC time (2026-11-22T21:30:00Z), an hour (2026-11-22T21) or a duration ago (90m, 6h, 7d)`, COMMAND);
}
