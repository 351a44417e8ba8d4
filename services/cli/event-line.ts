// One line of a publish file: {"payload": {...}, "event_id": "..."} or a bare payload object, checked against the schema version.
import type { SchemaVersion } from '../registry/registry.ts';
import { validateEventId, validatePayload, validateScopedEventId, type PublishItem } from '../sdk/index.ts';

export type EventLine =
  | { readonly kind: 'event'; readonly item: PublishItem }
  | { readonly kind: 'blank' }
  | { readonly kind: 'invalid'; readonly problem: string };

/** The CLI publisher's origin: the scope of the event ids it sends ("hourglass-cli:<event_id>"). */
export const CLI_ORIGIN = 'hourglass-cli';

/** Largest encoded payload the CLI sends (the SDK's default maxEventBytes). */
export const MAX_EVENT_BYTES = 512 * 1024;

export function parseEventLine(text: string, version: SchemaVersion): EventLine {
  if (text.trim() === '') return { kind: 'blank' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', problem: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'invalid', problem: 'expected a JSON object' };
  const obj = value as Record<string, unknown>;
  // An envelope has a payload object and nothing but event_id beside it; anything else is a bare payload.
  const envelope = typeof obj.payload === 'object' && obj.payload !== null && !Array.isArray(obj.payload) && Object.keys(obj).every((k) => k === 'payload' || k === 'event_id');
  const payload = envelope ? (obj.payload as object) : obj;
  const eventId = envelope ? obj.event_id : undefined;
  const problems = [...validatePayload(version, payload), ...validateEventId(eventId), ...validateScopedEventId(CLI_ORIGIN, eventId)];
  if (problems.length > 0) return { kind: 'invalid', problem: problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ') };
  const bytes = version.payloadType.toBuffer(payload).length;
  if (bytes > MAX_EVENT_BYTES) return { kind: 'invalid', problem: `${bytes} bytes encoded; the limit is ${MAX_EVENT_BYTES}` };
  return { kind: 'event', item: eventId === undefined ? { payload } : { payload, eventId: eventId as string } };
}
