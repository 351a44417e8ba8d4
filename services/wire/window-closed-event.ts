// The closed-window event: one message on the closed-windows topic per closed window, so a scheduler learns an hour is final without polling for _SUCCESS.
//
// The data is JSON (below); the attributes repeat what a subscription filter needs (type, status). The
// ordering key is the type, so one type's events arrive in the order they were announced. Delivery is
// at least once: two checkers racing, or one that crashed between announcing and recording it, announce
// the same window again. Every copy of one window's event is the same close — its manifest is written
// create-only, once — so a consumer de-duplicates on `dedupKey` (type and window start) and may check
// `manifest.sha256` against the bytes it reads.
import { isValidTypeName } from '../registry/type-name.ts';

export const WINDOW_CLOSED_FORMAT = 'hg-window-closed-1';

export interface WindowClosedEvent {
  readonly format: typeof WINDOW_CLOSED_FORMAT;
  /** `<type>/<windowStart>`: the same in every copy of this window's event, and in no other window's. */
  readonly dedupKey: string;
  readonly type: string;
  /** Window start and end, ISO 8601 UTC; the window is [windowStart, windowEnd). */
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly windowS: number;
  /** complete: proven, nothing missing. incomplete: closed after its max wait; `lostEvents` are named in the manifest. */
  readonly status: 'complete' | 'incomplete';
  readonly reason: string;
  readonly events: number;
  readonly lostEvents: number;
  readonly abandonedEvents: number;
  readonly deadLetteredEvents: number;
  readonly schemaVersion: number;
  /** From the window's end to its manifest (ms). */
  readonly closeDelayMs: number;
  readonly closedAt: string;
  /** The closed folder (gs://bucket/<type>/dt=…/hour=…/) and its manifest, with the SHA-256 of the manifest's bytes. */
  readonly folder: string;
  readonly manifest: { readonly uri: string; readonly sha256: string };
}

/** Attributes of the message (all strings): what a subscription filter can select on. */
export function windowClosedAttributes(e: WindowClosedEvent): Record<string, string> {
  return { format: WINDOW_CLOSED_FORMAT, type: e.type, window_start: e.windowStart, status: e.status, dedup_key: e.dedupKey };
}

export function windowClosedDedupKey(type: string, windowStart: string): string {
  return `${type}/${windowStart}`;
}

/** Parses and checks one message's data; throws naming the first field that is wrong. */
export function parseWindowClosedEvent(data: Buffer | string): WindowClosedEvent {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    throw new Error(`a closed-window event is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('a closed-window event is not a JSON object');
  const o = v as Record<string, unknown>;
  const fail = (field: string, want: string): never => {
    throw new Error(`closed-window event: ${field} must be ${want}, got ${JSON.stringify(o[field])}`);
  };
  if (o.format !== WINDOW_CLOSED_FORMAT) fail('format', JSON.stringify(WINDOW_CLOSED_FORMAT));
  if (typeof o.type !== 'string' || !isValidTypeName(o.type)) fail('type', 'an event type name');
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
  for (const f of ['windowStart', 'windowEnd', 'closedAt']) if (typeof o[f] !== 'string' || !iso.test(o[f]) || Number.isNaN(Date.parse(o[f]))) fail(f, 'an ISO 8601 UTC time');
  if (o.status !== 'complete' && o.status !== 'incomplete') fail('status', '"complete" or "incomplete"');
  for (const f of ['windowS', 'schemaVersion']) if (!Number.isSafeInteger(o[f]) || (o[f] as number) < 1) fail(f, 'a whole number ≥ 1');
  for (const f of ['events', 'lostEvents', 'abandonedEvents', 'deadLetteredEvents', 'closeDelayMs']) {
    if (!Number.isSafeInteger(o[f]) || (o[f] as number) < 0) fail(f, 'a whole number ≥ 0');
  }
  if (o.dedupKey !== windowClosedDedupKey(o.type as string, o.windowStart as string)) fail('dedupKey', `"${windowClosedDedupKey(o.type as string, o.windowStart as string)}"`);
  if (typeof o.reason !== 'string') fail('reason', 'a string');
  if (typeof o.folder !== 'string' || !o.folder.endsWith('/')) fail('folder', 'a folder ending in "/"');
  const m = o.manifest as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null || typeof m.uri !== 'string' || typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) fail('manifest', '{ uri, sha256 (64 hex digits) }');
  return o as unknown as WindowClosedEvent;
}
