// Avro object-container framing (spec 1.11): header, blocks and sync markers, written and parsed without decoding a record.
//
// Because a Pub/Sub message body *is* a block body (DESIGN.md, "the message is the block"), the
// worker writes files by framing bodies it never decompresses, and the closer copies blocks from
// staging files into final files whole. So this module only knows bytes: block bodies stay
// compressed, and proving that a body holds its records is record-skipper.ts's job.
import { randomBytes } from 'node:crypto';
import { isCodecName, type CodecName } from './codecs.ts';

/** 'O', 'b', 'j', 1: the first four bytes of every Avro object-container file. */
export const AVRO_MAGIC: Buffer = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

export const SYNC_MARKER_BYTES = 16;

/** A zig-zag varint long takes at most 10 bytes (64 bits, 7 per byte). */
const MAX_VARINT_BYTES = 10;

/** A file (or buffer) that is not a well-formed Avro container; `offset` is where the problem is. */
export class CorruptContainerError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'CorruptContainerError';
    this.offset = offset;
  }
}

export function newSyncMarker(): Buffer {
  return randomBytes(SYNC_MARKER_BYTES);
}

// ---------------------------------------------------------------------------------------------
// Zig-zag varint longs. Arithmetic instead of bit operators: JS bit operators are 32-bit, and
// block sizes and counts may exceed 2^31. Zig-zag of a negative n is -2n-1, which is not exact in
// a double near 2^53, so the sign goes into the first byte and the magnitude is split from there.

/** Bytes `writeLong` will use for `value`. */
export function longByteLength(value: number): number {
  checkLongValue(value);
  let rest = Math.floor((value < 0 ? -value - 1 : value) / 64);
  let n = 1;
  while (rest > 0) {
    rest = Math.floor(rest / 128);
    n++;
  }
  return n;
}

/** Writes `value` (a safe integer: |value| < 2^53) at `pos` and returns the position after it. */
export function writeLong(buf: Uint8Array, pos: number, value: number): number {
  checkLongValue(value);
  const magnitude = value < 0 ? -value - 1 : value;
  let rest = Math.floor(magnitude / 64);
  const first = (magnitude % 64) * 2 + (value < 0 ? 1 : 0);
  if (rest === 0) {
    buf[pos++] = first;
    return pos;
  }
  buf[pos++] = first | 0x80;
  while (rest >= 0x80) {
    buf[pos++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[pos++] = rest;
  return pos;
}

/** `value` as a standalone zig-zag varint. */
export function encodeLong(value: number): Buffer {
  const buf = Buffer.allocUnsafe(longByteLength(value));
  writeLong(buf, 0, value);
  return buf;
}

/**
 * Reads the long at `pos`. Throws `CorruptContainerError` if it runs past the end, takes more than
 * 10 bytes, or is beyond what a double holds exactly (|value| ≥ 2^53, except -2^53 itself).
 */
export function readLong(buf: Uint8Array, pos: number): { value: number; next: number } {
  const start = pos;
  let b = buf[pos++];
  if (b === undefined) throw new CorruptContainerError('truncated long', start);
  const negative = (b & 1) === 1;
  let magnitude = (b & 0x7f) >>> 1;
  let scale = 64;
  while (b >= 0x80) {
    if (pos - start >= MAX_VARINT_BYTES) throw new CorruptContainerError('varint longer than 10 bytes', start);
    b = buf[pos++];
    if (b === undefined) throw new CorruptContainerError('truncated long', start);
    magnitude += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  // Rounding is monotonic, so a true magnitude of 2^53 or more never sums to less than 2^53.
  if (magnitude > Number.MAX_SAFE_INTEGER) throw new CorruptContainerError('long beyond 2^53', start);
  return { value: negative ? -magnitude - 1 : magnitude, next: pos };
}

function checkLongValue(value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${value} is not a safe integer (|value| < 2^53)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Header

export interface ContainerHeaderOptions {
  /** The writer schema, as JSON text. Stored verbatim under `avro.schema`. */
  schemaJson: string;
  codec: CodecName;
  /** The file's 16-byte sync marker; `newSyncMarker()` makes one. */
  sync: Buffer;
  /** Extra metadata, stored as UTF-8 bytes. Keys starting with `avro.` are reserved by the spec. */
  meta?: Record<string, string>;
}

export interface ContainerHeader {
  schemaJson: string;
  codec: CodecName;
  sync: Buffer;
  /** Metadata other than `avro.schema` and `avro.codec`, decoded as UTF-8. */
  meta: Record<string, string>;
  /** Bytes from the start of the file to the first block. */
  byteLength: number;
}

/** Magic, the metadata map (`avro.schema`, `avro.codec`, then `meta`), and the sync marker. */
export function encodeContainerHeader(opts: ContainerHeaderOptions): Buffer {
  checkSync(opts.sync);
  try {
    JSON.parse(opts.schemaJson);
  } catch (err) {
    throw new TypeError(`schemaJson is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const entries: [string, Buffer][] = [
    ['avro.schema', Buffer.from(opts.schemaJson, 'utf8')],
    ['avro.codec', Buffer.from(opts.codec, 'utf8')],
  ];
  for (const [key, value] of Object.entries(opts.meta ?? {})) {
    if (key.startsWith('avro.')) throw new TypeError(`metadata key ${JSON.stringify(key)} is reserved by the Avro spec`);
    entries.push([key, Buffer.from(value, 'utf8')]);
  }
  const pieces: Buffer[] = [AVRO_MAGIC, encodeLong(entries.length)];
  for (const [key, value] of entries) {
    const keyBytes = Buffer.from(key, 'utf8');
    pieces.push(encodeLong(keyBytes.length), keyBytes, encodeLong(value.length), value);
  }
  pieces.push(encodeLong(0), opts.sync);
  return Buffer.concat(pieces);
}

/** Reads and validates the header; the first block starts at `header.byteLength`. */
export function parseContainerHeader(file: Buffer): ContainerHeader {
  if (file.length < AVRO_MAGIC.length || !file.subarray(0, AVRO_MAGIC.length).equals(AVRO_MAGIC)) {
    throw new CorruptContainerError('not an Avro object-container file (bad magic)', 0);
  }
  let pos = AVRO_MAGIC.length;
  const raw = new Map<string, Buffer>();
  for (;;) {
    const countAt = pos;
    const head = readLong(file, pos);
    let count = head.value;
    pos = head.next;
    if (count === 0) break;
    if (count < 0) {
      // A negative count is followed by the block's size in bytes, which we do not need.
      count = -count;
      pos = readLong(file, pos).next;
    }
    if (count > file.length - pos) throw new CorruptContainerError(`metadata map declares ${count} entries`, countAt);
    for (let i = 0; i < count; i++) {
      const key = readBytes(file, pos, 'metadata key');
      const value = readBytes(file, key.next, 'metadata value');
      raw.set(key.bytes.toString('utf8'), value.bytes);
      pos = value.next;
    }
  }
  if (file.length - pos < SYNC_MARKER_BYTES) throw new CorruptContainerError('truncated header: no sync marker', pos);
  const sync = file.subarray(pos, pos + SYNC_MARKER_BYTES);
  pos += SYNC_MARKER_BYTES;

  const schemaBytes = raw.get('avro.schema');
  if (schemaBytes === undefined) throw new CorruptContainerError('header has no avro.schema', AVRO_MAGIC.length);
  const codec = raw.get('avro.codec')?.toString('utf8') ?? 'null';
  if (!isCodecName(codec)) throw new CorruptContainerError(`unsupported codec ${JSON.stringify(codec)}`, AVRO_MAGIC.length);
  const meta: Record<string, string> = {};
  for (const [key, value] of raw) {
    if (key !== 'avro.schema' && key !== 'avro.codec') meta[key] = value.toString('utf8');
  }
  return { schemaJson: schemaBytes.toString('utf8'), codec, sync, meta, byteLength: pos };
}

function readBytes(file: Buffer, pos: number, what: string): { bytes: Buffer; next: number } {
  const { value: length, next } = readLong(file, pos);
  if (length < 0) throw new CorruptContainerError(`negative ${what} length ${length}`, pos);
  if (length > file.length - next) throw new CorruptContainerError(`truncated ${what} (${length} bytes declared)`, pos);
  return { bytes: file.subarray(next, next + length), next: next + length };
}

// ---------------------------------------------------------------------------------------------
// Blocks

export interface ContainerBlock {
  /** Records in the block, as its prefix declares (not verified here). */
  count: number;
  /** The block body, still compressed: a subarray of the file, not a copy. */
  body: Buffer;
  /** Where the block's prefix starts in the file. */
  offset: number;
  /** Prefix + body + sync marker. */
  byteLength: number;
}

/** A block's prefix: its record count and its body's size, two zig-zag longs. */
export function encodeBlockPrefix(count: number, byteLength: number): Buffer {
  checkCount(count, 'record count');
  checkCount(byteLength, 'block byte length');
  const prefix = Buffer.allocUnsafe(longByteLength(count) + longByteLength(byteLength));
  writeLong(prefix, writeLong(prefix, 0, count), byteLength);
  return prefix;
}

/** A whole block as three pieces (prefix, body, sync), so the body is never copied; write them with writev or concat. */
export function encodeBlock(count: number, body: Uint8Array, sync: Buffer): Buffer[] {
  checkSync(sync);
  return [encodeBlockPrefix(count, body.byteLength), asBuffer(body), sync];
}

/** Yields the blocks from `startOffset` to the end of the file, checking each one's frame and sync marker. */
export function* iterateBlocks(file: Buffer, startOffset: number, sync: Buffer): Generator<ContainerBlock> {
  let pos = startOffset;
  while (pos < file.length) {
    const offset = pos;
    const count = readLong(file, pos);
    if (count.value < 0) throw new CorruptContainerError(`negative block record count ${count.value}`, offset);
    const size = readLong(file, count.next);
    if (size.value < 0) throw new CorruptContainerError(`negative block size ${size.value}`, count.next);
    const bodyAt = size.next;
    if (size.value > file.length - bodyAt) {
      throw new CorruptContainerError(`truncated block: ${size.value} body bytes declared, ${file.length - bodyAt} left in the file`, offset);
    }
    const syncAt = bodyAt + size.value;
    if (file.length - syncAt < SYNC_MARKER_BYTES) {
      throw new CorruptContainerError('truncated block: no room for its sync marker', syncAt);
    }
    if (!file.subarray(syncAt, syncAt + SYNC_MARKER_BYTES).equals(sync)) {
      throw new CorruptContainerError('sync marker does not match the header', syncAt);
    }
    pos = syncAt + SYNC_MARKER_BYTES;
    yield { count: count.value, body: file.subarray(bodyAt, syncAt), offset, byteLength: pos - offset };
  }
}

/** Parses a whole container file: the header and every block's frame. Records are not decoded. */
export function parseContainer(file: Buffer): { header: ContainerHeader; blocks: ContainerBlock[] } {
  const header = parseContainerHeader(file);
  return { header, blocks: [...iterateBlocks(file, header.byteLength, header.sync)] };
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface ContainerWriterOptions {
  schemaJson: string;
  codec: CodecName;
  /** Default: a fresh random marker. */
  sync?: Buffer;
  meta?: Record<string, string>;
}

/**
 * Builds a container file from already-compressed block bodies, as a list of pieces: bodies are
 * held by reference, never copied or re-encoded, until `toBuffer()` (or written with `pieces()`),
 * so do not change a body after appending it.
 */
export class ContainerWriter {
  readonly codec: CodecName;
  readonly sync: Buffer;
  readonly #pieces: Buffer[];
  #byteLength: number;
  #recordCount = 0;
  #blockCount = 0;

  constructor(opts: ContainerWriterOptions) {
    this.codec = opts.codec;
    this.sync = opts.sync ?? newSyncMarker();
    const header = encodeContainerHeader({ schemaJson: opts.schemaJson, codec: opts.codec, sync: this.sync, meta: opts.meta });
    this.#pieces = [header];
    this.#byteLength = header.length;
  }

  /** Appends one block of `count` records whose body is already compressed with this file's codec. */
  appendBlock(count: number, compressedBody: Uint8Array): void {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`a block holds at least one record, got count ${count}`);
    const pieces = encodeBlock(count, compressedBody, this.sync);
    for (const piece of pieces) {
      this.#pieces.push(piece);
      this.#byteLength += piece.length;
    }
    this.#recordCount += count;
    this.#blockCount++;
  }

  /** Bytes of the file so far, header included. */
  get byteLength(): number {
    return this.#byteLength;
  }

  get recordCount(): number {
    return this.#recordCount;
  }

  get blockCount(): number {
    return this.#blockCount;
  }

  /** The file as pieces, in order, for a vectored write without a concatenated copy. */
  pieces(): readonly Buffer[] {
    return this.#pieces.slice();
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#pieces, this.#byteLength);
  }
}

function checkSync(sync: Buffer): void {
  if (sync.length !== SYNC_MARKER_BYTES) throw new RangeError(`a sync marker is ${SYNC_MARKER_BYTES} bytes, got ${sync.length}`);
}

function checkCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
