// Validates a producer's event against its schema and appends it, as a delivered Avro record, to a batch buffer.
//
// A delivered record is the identity fields followed by the producer's fields (delivered-schema.ts);
// Avro encodes a record as its fields back to back, so we write the identity fields by hand and let
// avsc append the payload: no per-event object copy.
import type avro from 'avsc';
import { HourglassError } from '../errors/catalogue.ts';
import type { SchemaVersion } from '../registry/registry.ts';
import { writeLong } from '../wire/avro-container.ts';

export interface FieldProblem {
  /** Dotted path of the offending field ("" for the event itself). */
  readonly path: string;
  readonly message: string;
}

/** Longest delivered event id (a client's, with its scope), in characters. */
export const EVENT_ID_MAX_CHARS = 256;

/** Every way `payload` fails the schema; empty when it is valid. Undeclared fields count as faults (typos lose data). */
export function validatePayload(type: avro.Type, payload: unknown): FieldProblem[] {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return [{ path: '', message: `expected an object matching ${type.name ?? 'the schema'}, got ${describe(payload)}` }];
  }
  // The common case, a valid event, costs one check.
  if (type.isValid(payload, { noUndeclaredFields: true } as never)) return [];
  const problems: FieldProblem[] = [];
  // Two passes: avsc stops checking a record's fields once it finds an undeclared one, so type
  // errors are collected first, then undeclared fields (typos that would silently lose data).
  type.isValid(payload, {
    errorHook: (path: string[], value: unknown, fieldType: avro.Type) => {
      problems.push({ path: path.join('.'), message: `expected ${describeType(fieldType)}, got ${describe(value)}` });
    },
  });
  const reported = new Set(problems.map((p) => p.path));
  type.isValid(payload, {
    noUndeclaredFields: true,
    errorHook: (path: string[], value: unknown, fieldType: avro.Type) => {
      if (fieldType.typeName !== 'record' || typeof value !== 'object' || value === null || Array.isArray(value)) return;
      const declared = new Set((fieldType as avro.types.RecordType).fields.map((f) => f.name));
      for (const key of Object.keys(value)) {
        const keyPath = [...path, key].join('.');
        if (!declared.has(key) && !reported.has(keyPath)) {
          reported.add(keyPath);
          problems.push({ path: keyPath, message: 'is not a field of the schema' });
        }
      }
    },
  } as never);
  return problems;
}

/** Problems with a client event id, if one is given. */
export function validateEventId(eventId: unknown): FieldProblem[] {
  if (eventId === undefined) return [];
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > EVENT_ID_MAX_CHARS) {
    return [{ path: 'event_id', message: `must be a non-empty string of at most ${EVENT_ID_MAX_CHARS} characters` }];
  }
  return [];
}

/** A growable byte buffer that events are appended to: bytes [0, length) are the batch so far. */
export class ByteSink {
  buf: Buffer;
  length = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `bytes` more bytes after `length`. */
  reserve(bytes: number): void {
    this.ensureCapacity(this.length + bytes, this.length);
  }

  /**
   * Grows the buffer to hold at least `capacity` bytes, keeping its first `keep` bytes (which may
   * run past `length`: a record being written). One step, never a loop: at least twice the old size
   * so that appending n bytes copies O(n) bytes in all, and at least `capacity` so one step is
   * always enough, whatever the starting size (even 0).
   */
  ensureCapacity(capacity: number, keep: number): void {
    if (capacity <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(capacity, this.buf.length * 2));
    this.buf.copy(next, 0, 0, keep);
    this.buf = next;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Appends delivered records of one schema version for one publisher. */
export class EventEncoder {
  readonly version: SchemaVersion;
  readonly #publisherBytes: Buffer;

  constructor(version: SchemaVersion, publisher: string) {
    this.version = version;
    this.#publisherBytes = Buffer.from(publisher, 'utf8');
  }

  /**
   * Appends one record; returns its encoded size. `eventId` undefined means "<publisher>-<seq>".
   * If anything throws, `sink.length` is unchanged: a partly written record is never part of the batch.
   */
  append(sink: ByteSink, payload: object, seq: number, receiveUs: number, eventId: string | undefined): number {
    const start = sink.length;
    const pub = this.#publisherBytes;
    const seqText = eventId === undefined ? String(seq) : '';
    const idBytes = eventId === undefined ? pub.length + 1 + seqText.length : Buffer.byteLength(eventId, 'utf8');
    sink.reserve(10 + idBytes + 10 + 10 + pub.length + 10 + 64);
    let pos = writeLong(sink.buf, sink.length, idBytes);
    if (eventId === undefined) {
      pub.copy(sink.buf, pos);
      pos += pub.length;
      sink.buf[pos++] = 0x2d; // '-'
      pos += sink.buf.write(seqText, pos, 'latin1');
    } else {
      pos += sink.buf.write(eventId, pos, 'utf8');
    }
    pos = writeLong(sink.buf, pos, receiveUs);
    pos = writeLong(sink.buf, pos, pub.length);
    pub.copy(sink.buf, pos);
    pos += pub.length;
    pos = writeLong(sink.buf, pos, seq);
    const payloadType = this.version.payloadType;
    let end = payloadType.encode(payload, sink.buf, pos);
    if (end < 0) {
      // avsc wrote what fitted and returned how far the payload runs past the END of the buffer
      // (not past pos): the buffer must be that much longer. Encoding is deterministic, so once the
      // buffer is grown the payload fits; a second overflow is a bug, reported, never retried.
      sink.ensureCapacity(sink.buf.length - end, pos);
      end = payloadType.encode(payload, sink.buf, pos);
      if (end < 0) {
        throw new HourglassError('HG_INTERNAL', `encoding a ${this.version.payloadType.name ?? 'payload'} overflowed its buffer twice (by ${-end} bytes after growing)`, {
          retryable: false,
        });
      }
    }
    sink.length = end;
    return end - start;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function describeType(type: avro.Type): string {
  if (type.typeName === 'enum') return `one of ${(type as avro.types.EnumType).symbols.join(', ')}`;
  if (type.typeName === 'union:unwrapped' || type.typeName === 'union:wrapped') {
    return (type as unknown as { types: avro.Type[] }).types.map(describeType).join(' or ');
  }
  if (type.typeName === 'long') return 'a long (integer)';
  if (type.typeName === 'int') return 'an int (32-bit integer)';
  return type.name ?? `a ${type.typeName}`;
}
