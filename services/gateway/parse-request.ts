// Turns an HTTP request for POST /v1/events/:type into publisher items, or into an error that says exactly what is wrong.
//
// The body is a JSON array of events, each `{"payload": {...}, "event_id"?: "..."}` and nothing else.
// Paths in error details are relative to the event in that array: "" (the event itself), "event_id",
// "payload", "payload.<field>". Payloads go through the gateway's JSON mapping (json-payload.ts),
// which applies the same value rules as the SDK's validator, so the gateway and a direct publish()
// agree on what is valid: the gateway accepts exactly what the worker will accept.
import { HourglassError } from '../errors/catalogue.ts';
import { validateEventId, validatePayload } from '../registry/payload-validator.ts';
import type { SchemaVersion } from '../registry/registry.ts';
import type { InvalidEvent, PublishItem } from '../sdk/index.ts';
import { jsonIsIdentity, payloadFromJson } from './json-payload.ts';

/** One invalid event of a request, as listed in a 400 answer. */
export interface RequestProblem {
  readonly index: number;
  /** Where in the event: "", "event_id", "payload" or "payload.<field path>". */
  readonly path: string;
  readonly message: string;
}

export interface BodyLimits {
  readonly maxEventsPerRequest: number;
}

const ITEM_KEYS = new Set(['payload', 'event_id']);

/** `?version=N`: absent, or one positive integer. */
export function parseVersionParam(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string' && /^[1-9][0-9]{0,5}$/.test(raw)) return Number(raw);
  throw new HourglassError('HG_BAD_REQUEST', `query parameter "version" must be one positive integer, got ${JSON.stringify(raw)}`, {
    details: { parameter: 'version' },
  });
}

/** Throws HG_BAD_CONTENT_TYPE unless the Content-Type is application/json (UTF-8, if a charset is named). */
export function assertJsonContentType(contentType: string | undefined): void {
  const [mediaType = '', ...params] = (contentType ?? '').split(';');
  const media = mediaType.trim().toLowerCase();
  const fail = (why: string): never => {
    throw new HourglassError('HG_BAD_CONTENT_TYPE', `${why}; send "Content-Type: application/json"`, {
      details: { contentType: contentType ?? null },
    });
  };
  if (media === '') fail('missing Content-Type');
  if (media !== 'application/json') fail(`unsupported Content-Type "${media}"`);
  for (const param of params) {
    const [name = '', value = ''] = param.split('=', 2).map((s) => s.trim().toLowerCase());
    if (name === 'charset' && value.replace(/^"|"$/g, '') !== 'utf-8' && value.replace(/^"|"$/g, '') !== 'utf8') fail(`unsupported charset "${value}"`);
  }
}

/**
 * Checks the shape of a parsed body and returns the items to publish. All or nothing: throws
 * HG_BAD_REQUEST for a body that is not a non-empty array, HG_BODY_TOO_LARGE past the event limit,
 * and HG_INVALID_EVENT listing every invalid event (shape, JSON mapping and schema).
 * When every event has the right shape and the schema's JSON mapping is the identity, the schema
 * check is left to publishMany, which makes it anyway (same rules, same paths).
 */
export function parseEventsBody(body: unknown, schema: SchemaVersion, limits: BodyLimits): PublishItem[] {
  if (!Array.isArray(body)) {
    const hint =
      typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events)
        ? ' (send the array itself, not an object wrapping it)'
        : '';
    throw new HourglassError('HG_BAD_REQUEST', `request body must be a JSON array of events like [{"payload": {...}, "event_id": "..."}]${hint}`);
  }
  if (body.length === 0) throw new HourglassError('HG_BAD_REQUEST', 'request body holds no events: send at least one');
  if (body.length > limits.maxEventsPerRequest) {
    throw new HourglassError('HG_BODY_TOO_LARGE', `request holds ${body.length} events; at most ${limits.maxEventsPerRequest} are accepted per request`, {
      details: { events: body.length, limit: limits.maxEventsPerRequest },
    });
  }
  const identity = jsonIsIdentity(schema);
  const items: PublishItem[] = new Array(body.length);
  const problems: RequestProblem[] = [];
  for (let index = 0; index < body.length; index++) {
    const item: unknown = body[index];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push({ index, path: '', message: `an event must be an object with "payload" (and optionally "event_id"), got ${describe(item)}` });
      continue;
    }
    const event = item as Record<string, unknown>;
    for (const key in event) {
      if (!ITEM_KEYS.has(key)) {
        problems.push({ index, path: key, message: 'is not allowed: an event has only "payload" and "event_id"' });
      }
    }
    let payload = event.payload;
    if (payload === undefined) {
      problems.push({ index, path: 'payload', message: 'is required' });
    } else if (!identity) {
      const mapped = payloadFromJson(schema, payload);
      if (mapped.ok) payload = mapped.value;
      else for (const p of mapped.problems) problems.push({ index, path: payloadPath(p.path), message: p.message });
    }
    // The SDK's rule, checked here so that any problem publishMany reports is inside a payload.
    for (const p of validateEventId(event.event_id)) {
      problems.push({ index, path: 'event_id', message: p.message });
    }
    items[index] = event.event_id === undefined ? { payload: payload as object } : { payload: payload as object, eventId: event.event_id as string };
  }
  if (problems.length === 0) return items;
  if (identity) {
    // Some events are misshapen: list the schema problems of the others too, so one answer names every fault.
    for (let index = 0; index < body.length; index++) {
      const item = items[index];
      if (!item || item.payload === undefined) continue;
      for (const p of validatePayload(schema, item.payload)) problems.push({ index, path: payloadPath(p.path), message: p.message });
    }
  }
  problems.sort((a, b) => a.index - b.index);
  throw invalidEventsError(problems);
}

/** The HG_INVALID_EVENT error of a request, from problems already in request paths. */
export function invalidEventsError(problems: readonly RequestProblem[]): HourglassError {
  const first = problems[0]!;
  const events = new Set(problems.map((p) => p.index)).size;
  return new HourglassError(
    'HG_INVALID_EVENT',
    `${events} invalid event${events === 1 ? '' : 's'}, none accepted; first: event ${first.index}${first.path ? ` "${first.path}"` : ''} ${first.message}`,
    { details: problems },
  );
}

/**
 * Re-bases the SDK's HG_INVALID_EVENT details onto the request's events. Every client event id was
 * checked before publishMany, so every problem the SDK reports is inside a payload.
 */
export function fromSdkProblems(details: readonly InvalidEvent[]): RequestProblem[] {
  // "event_id" is the event's own id (too long once scoped by its client), never a payload field: identity names are reserved.
  return details.map((p) => ({ index: p.index, path: p.path === 'event_id' ? 'event_id' : payloadPath(p.path), message: p.message }));
}

/** A field path inside a payload ("" = the payload itself) as a path inside the request's event. */
export function payloadPath(fieldPath: string): string {
  return fieldPath === '' ? 'payload' : `payload.${fieldPath}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  return `a ${typeof value}`;
}
