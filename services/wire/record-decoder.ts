// Decodes the records of one block with the writer schema from the file's header, and prints a record as a JSON line.
//
// The schema comes from the file, not the registry, so any closed hour reads, even one written
// with a schema version this checkout has never seen.
import avro from 'avsc';
import { decompressBlock, type CodecName } from './codecs.ts';
import { compileSkipper, proveRecordCount, type Skipper } from './record-skipper.ts';

export class RecordDecoder {
  readonly #type: avro.Type;
  readonly #skipper: Skipper;
  readonly #codec: CodecName;

  /** `schemaJson` and `codec` as in the container header. Logical types are not applied: timestamp-micros stays a number. */
  constructor(schemaJson: string, codec: CodecName) {
    const schema = JSON.parse(schemaJson) as avro.Schema;
    this.#type = avro.Type.forSchema(schema);
    this.#skipper = compileSkipper(schema as object);
    this.#codec = codec;
  }

  /** The block's records; throws when the body does not hold exactly `count` of them. */
  decodeBlock(body: Buffer, count: number): unknown[] {
    const data = decompressBlock(this.#codec, body);
    // Proven first, with the bounded skipper: avsc takes an array or map count at its word, so a corrupt
    // count of 2^33 entries keeps it decoding past the end of the buffer for minutes.
    const proof = proveRecordCount(this.#skipper, data, count);
    if (!proof.ok) throw new Error(`block does not hold ${count} records: ${proof.reason}`);
    const records: unknown[] = new Array(count);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const { value, offset } = this.#type.decode(data, pos);
      if (offset < 0) throw new Error(`block declares ${count} records but ends in record ${i + 1}`);
      records[i] = value;
      pos = offset;
    }
    if (pos !== data.length) throw new Error(`block holds more than its ${count} records (${data.length - pos} bytes left over)`);
    return records;
  }
}

/** One record as a line of JSON; bytes and fixed values print as base64 strings. */
export function toJsonLine(record: unknown): string {
  return `${JSON.stringify(record, bytesAsBase64)}\n`;
}

function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // Buffer#toJSON has already run by now: look at the original value on the holder.
  const original = this[key];
  return Buffer.isBuffer(original) ? original.toString('base64') : value;
}
