// Scopes client event ids by who sent them: a client id is delivered as "<scope>:<id>", so one client cannot suppress another's events by reusing ids.
//
// The scope is the publisher's origin for the SDK (a service's name: it survives restarts, so a
// retry from a new process incarnation still de-duplicates), and the authenticated client for the
// gateway. Generated ids ("<publisher>-<seq>") are not scoped: they are unique by construction and
// never compared with client ids.
import { HourglassError } from '../errors/catalogue.ts';
import { EVENT_ID_MAX_CHARS, type FieldProblem } from '../registry/payload-validator.ts';

/** Between the scope and the client's id. A scope never holds it, so the first one ends the scope. */
export const EVENT_ID_SCOPE_SEPARATOR = ':';

/** What a scope may be: a service or client name (the gateway's token names, "key-<hex>" and "anonymous" all fit). */
const SCOPE_SYNTAX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Why `scope` is not an event id scope; undefined when it is one. */
export function eventIdScopeProblem(scope: string): string | undefined {
  return SCOPE_SYNTAX.test(scope) ? undefined : `${JSON.stringify(scope)} is not an event id scope: 1..63 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit`;
}

/** Throws HG_CONFIG_INVALID unless `scope` is a valid scope (`what` names where it came from). */
export function assertEventIdScope(scope: string, what: string): void {
  const problem = eventIdScopeProblem(scope);
  if (problem) throw new HourglassError('HG_CONFIG_INVALID', `${what}: ${problem}`);
}

/** The delivered form of a client id; undefined stays undefined (the id will be generated). */
export function scopeEventId(scope: string, eventId: string | undefined): string | undefined {
  return eventId === undefined ? undefined : `${scope}${EVENT_ID_SCOPE_SEPARATOR}${eventId}`;
}

/** The problem of a client id that is valid alone but too long once scoped (other problems are validateEventId's). */
export function validateScopedEventId(scope: string, eventId: unknown): FieldProblem[] {
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > EVENT_ID_MAX_CHARS) return [];
  const scopedChars = scope.length + EVENT_ID_SCOPE_SEPARATOR.length + eventId.length;
  if (scopedChars <= EVENT_ID_MAX_CHARS) return [];
  return [{
    path: 'event_id',
    message: `is delivered scoped as "${scope}${EVENT_ID_SCOPE_SEPARATOR}<event_id>", ${scopedChars} characters, over the limit of ${EVENT_ID_MAX_CHARS}: send at most ${EVENT_ID_MAX_CHARS - scope.length - EVENT_ID_SCOPE_SEPARATOR.length} characters`,
  }];
}
