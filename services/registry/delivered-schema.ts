// The schema of a delivered record: the producer's fields plus the identity every hourglass record carries.
//
// Delivered records are flat (the producer's fields sit beside the identity fields) so analysts query
// `track_id` and `receive_time` alike in BigQuery, polars or DuckDB, without unnesting a payload.

/** The identity fields hourglass adds to every record; producer schemas may not use these names. */
export const IDENTITY_FIELDS = [
  {
    name: 'event_id',
    type: 'string',
    doc: 'A client-supplied id scoped by who sent it, "<scope>:<id>" (scope: the SDK publisher\'s origin, or the gateway client its token names, "key-<hex>" for an unnamed token, "anonymous" without authentication); or "<publisher>-<seq>" when the client sent none. A closed hour holds one copy of a client id among copies received within the de-duplication horizon (default 10 minutes) of each other; a generated id is unique.',
  },
  {
    name: 'receive_time',
    type: { type: 'long', logicalType: 'timestamp-micros' },
    doc: 'When hourglass received the event (UTC microseconds): in the SDK publish() call, or at the gateway. Decides the hour.',
  },
  { name: 'publisher', type: 'string', doc: 'Id of the publisher process incarnation that accepted the event.' },
  { name: 'seq', type: 'long', doc: 'Position of the event in its publisher\'s stream of this type, from 0, without gaps.' },
] as const;

export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(IDENTITY_FIELDS.map((f) => f.name));

/** The generated event id of an event sent without a client id. */
export function generatedEventId(publisher: string, seq: number): string {
  return `${publisher}-${seq}`;
}

interface RecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: Array<{ name: string }>;
}

/** Builds the delivered record schema from a producer record schema (same name, identity fields first). */
export function deliveredSchemaOf(payload: RecordSchema): RecordSchema {
  return {
    ...payload,
    doc: payload.doc ? `${payload.doc} (delivered by hourglass)` : 'Delivered by hourglass',
    fields: [...IDENTITY_FIELDS.map((f) => ({ ...f })), ...payload.fields],
  };
}
