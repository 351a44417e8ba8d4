// Appends a validated producer event, as a delivered Avro record, to a batch buffer.
//
// A delivered record is the identity fields followed by the producer's fields (delivered-schema.ts);
// Avro encodes a record as its fields back to back, so we write the identity fields by hand and let
// avsc append the payload: no per-event object copy.
import type { SchemaVersion } from '../registry/registry.ts';
import { writeLong } from '../wire/avro-container.ts';

/** A growable byte buffer that events are appended to. */
export class ByteSink {
  buf: Buffer;
  length = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
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

  /** Appends one record; returns its encoded size. `eventId` undefined means "<publisher>-<seq>". */
  append(sink: ByteSink, payload: object, seq: number, receiveUs: number, eventId: string | undefined): number {
    const start = sink.length;
    const pub = this.#publisherBytes;
    const idBytes = eventId === undefined ? pub.length + 1 + digits(seq) : Buffer.byteLength(eventId, 'utf8');
    sink.reserve(10 + idBytes + 10 + 10 + pub.length + 10 + 64);
    let pos = writeLong(sink.buf, sink.length, idBytes);
    if (eventId === undefined) {
      pub.copy(sink.buf, pos);
      pos += pub.length;
      sink.buf[pos++] = 0x2d; // '-'
      pos += sink.buf.write(String(seq), pos, 'latin1');
    } else {
      pos += sink.buf.write(eventId, pos, 'utf8');
    }
    pos = writeLong(sink.buf, pos, receiveUs);
    pos = writeLong(sink.buf, pos, pub.length);
    pub.copy(sink.buf, pos);
    pos += pub.length;
    pos = writeLong(sink.buf, pos, seq);
    for (;;) {
      const end = this.version.payloadType.encode(payload, sink.buf, pos);
      if (end >= 0) {
        sink.length = end;
        return end - start;
      }
      // Not enough room: grow (keeping what is written up to pos) and encode the payload again.
      sink.length = pos;
      sink.reserve(-end + 64);
    }
  }
}

function digits(n: number): number {
  return n < 10 ? 1 : Math.floor(Math.log10(n)) + 1;
}
