// Appends a validated producer event, as a delivered Avro record, to a batch buffer.
//
// A delivered record is the identity fields followed by the producer's fields (delivered-schema.ts);
// Avro encodes a record as its fields back to back, so we write the identity fields by hand and let
// avsc append the payload: no per-event object copy.
import { HourglassError } from '../errors/catalogue.ts';
import type { SchemaVersion } from '../registry/registry.ts';
import { writeLong } from '../wire/avro-container.ts';

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
