// Block codecs of Avro object-container files (spec 1.11): compress and decompress one block body, synchronously.
//
// The same bytes travel as a Pub/Sub message body and sit in a container file as a block, so these
// functions must be byte-for-byte what every other Avro reader expects:
//   null       the datums as they are
//   deflate    RAW deflate (RFC 1951): no zlib header, no checksum
//   zstandard  one or more zstd frames
//   snappy     a raw snappy block followed by the 4-byte big-endian CRC32 of the uncompressed datums
// Decompression always caps its output: a block comes from the network, and a few kilobytes of
// crafted deflate or zstd can claim gigabytes.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

/**
 * The snappy binding is native and optional (the SDK package lists it as an optional peer): loaded on
 * the first snappy block, never by a process that uses deflate, zstandard or null only.
 */
let snappyBinding: typeof import('snappy') | undefined;
function snappy(): typeof import('snappy') {
  if (snappyBinding) return snappyBinding;
  try {
    snappyBinding = createRequire(import.meta.url)('snappy') as typeof import('snappy');
  } catch (err) {
    throw new Error('the snappy codec needs the "snappy" package (npm install snappy); deflate and zstandard need nothing', { cause: err });
  }
  return snappyBinding;
}

export type CodecName = 'null' | 'deflate' | 'zstandard' | 'snappy';

/** Why `codec` cannot be used in this process (its optional native binding is not installed), or undefined when it can. */
export function codecUnavailable(codec: CodecName): string | undefined {
  if (codec !== 'snappy') return undefined;
  try {
    snappy();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const CODEC_NAMES: readonly CodecName[] = Object.freeze(['null', 'deflate', 'zstandard', 'snappy']);

export function isCodecName(s: string): s is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(s);
}

/**
 * Deflate level 1. Blocks are compressed on the publisher's hot path (the SDK, once per batch).
 * On 100 KB of track-played events level 1 came within 2% of level 6's size at 2.3x its speed:
 * the redundancy is in repeated field values, which a fast search already finds.
 */
export const DEFAULT_DEFLATE_LEVEL = 1;

/** zstd's own default, 3: on the same events, faster to compress than deflate 1, as fast to decompress, and smaller than deflate 6. */
export const DEFAULT_ZSTD_LEVEL = 3;

/**
 * Have the snappy binding copy its output into an ordinary Buffer. Its default, wrapping native
 * memory as an external buffer, measured 3–9x slower on 100 KB blocks: the copy is cheap, the
 * external buffer's bookkeeping is not.
 */
const SNAPPY_COPY = { copyOutputData: true };

/** Default cap on a decompressed block: 64 MiB, far above any sane batch, far below harm. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface DecompressOptions {
  /** Largest decompressed block accepted, in bytes. Default: 64 MiB (`DEFAULT_MAX_OUTPUT_BYTES`). */
  maxOutputLength?: number;
}

/** A codec name that is not one of `CODEC_NAMES` (for instance `bzip2` or `xz`, which we do not support). */
export class UnknownCodecError extends Error {
  readonly codec: string;
  constructor(codec: string) {
    super(`unknown Avro codec ${JSON.stringify(codec)} (supported: ${CODEC_NAMES.join(', ')})`);
    this.name = 'UnknownCodecError';
    this.codec = codec;
  }
}

/** Why a block could not be decompressed. */
export type CorruptBlockReason = 'malformed' | 'crc-mismatch' | 'too-large';

/** A compressed block that does not decompress to something we accept. Never retryable: the bytes are bad. */
export class CorruptBlockError extends Error {
  readonly codec: CodecName;
  readonly reason: CorruptBlockReason;
  constructor(codec: CodecName, reason: CorruptBlockReason, detail: string, options?: { cause?: unknown }) {
    super(`corrupt ${codec} block (${reason}): ${detail}`, options);
    this.name = 'CorruptBlockError';
    this.codec = codec;
    this.reason = reason;
  }
}

/**
 * Compress one block body with `codec`. `level` applies to deflate (0–9, default 1) and zstandard
 * (1–22, default 3); null and snappy have no level and ignore it.
 */
export function compressBlock(codec: CodecName, data: Uint8Array, level?: number): Buffer {
  switch (codec) {
    case 'null':
      return asBuffer(data);
    case 'deflate':
      return zlib.deflateRawSync(data, { level: level ?? DEFAULT_DEFLATE_LEVEL });
    case 'zstandard':
      return zlib.zstdCompressSync(data, {
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: level ?? DEFAULT_ZSTD_LEVEL,
          // Writing the size into the frame lets a reader allocate once, and check it against its cap.
          [zlib.constants.ZSTD_c_contentSizeFlag]: 1,
        },
        pledgedSrcSize: data.byteLength,
      });
    case 'snappy': {
      const compressed = snappy().compressSync(data, SNAPPY_COPY);
      const out = Buffer.allocUnsafe(compressed.length + 4);
      compressed.copy(out, 0);
      out.writeUInt32BE(zlib.crc32(data) >>> 0, compressed.length);
      return out;
    }
    default:
      throw new UnknownCodecError(codec);
  }
}

/**
 * Decompress one block body. The null codec returns a view of `data`, not a copy. Throws
 * `CorruptBlockError` for bad bytes, a snappy CRC mismatch, or output above `maxOutputLength`.
 */
export function decompressBlock(codec: CodecName, data: Uint8Array, options: DecompressOptions = {}): Buffer {
  const maxOutputLength = options.maxOutputLength ?? DEFAULT_MAX_OUTPUT_BYTES;
  switch (codec) {
    case 'null':
      if (data.byteLength > maxOutputLength) throw tooLarge(codec, maxOutputLength);
      return asBuffer(data);
    case 'deflate':
    case 'zstandard': {
      // zlib refuses a cap below 1 byte (a RangeError, not bad data): a cap of 0 is checked here.
      const zlibCap = Math.max(1, maxOutputLength);
      const out = codec === 'deflate' ? inflateRaw(data, zlibCap) : zlibDecompress(codec, () => zlib.zstdDecompressSync(data, { maxOutputLength: zlibCap }), zlibCap);
      if (out.length > maxOutputLength) throw tooLarge(codec, maxOutputLength);
      return out;
    }
    case 'snappy':
      return snappyDecompress(data, maxOutputLength);
    default:
      throw new UnknownCodecError(codec);
  }
}

function inflateRaw(data: Uint8Array, maxOutputLength: number): Buffer {
  const { buffer, engine } = zlibDecompress(
    'deflate',
    () => zlib.inflateRawSync(data, { maxOutputLength, info: true }) as unknown as InflateResult,
    maxOutputLength,
  );
  // inflate stops at the end of the deflate stream and silently ignores whatever follows; a block
  // with trailing bytes was not written by an Avro writer, so it is refused rather than half-read.
  const consumed = engine.bytesWritten;
  if (consumed !== data.byteLength) {
    throw new CorruptBlockError('deflate', 'malformed', `${data.byteLength - consumed} bytes after the end of the deflate stream`);
  }
  return buffer;
}

interface InflateResult {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/** Runs a zlib call and turns its errors into `CorruptBlockError`s. */
function zlibDecompress<T>(codec: CodecName, run: () => T, maxOutputLength: number): T {
  try {
    return run();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(codec, maxOutputLength, err);
    throw new CorruptBlockError(codec, 'malformed', (err as Error).message, { cause: err });
  }
}

function snappyDecompress(data: Uint8Array, maxOutputLength: number): Buffer {
  if (data.byteLength < 4) {
    throw new CorruptBlockError('snappy', 'malformed', `${data.byteLength} bytes is too short for a snappy block and its CRC32`);
  }
  const compressed = data.subarray(0, data.byteLength - 4);
  // A raw snappy block starts with its uncompressed length: check it before allocating anything.
  const declared = snappyDeclaredLength(compressed);
  if (declared > maxOutputLength) throw tooLarge('snappy', maxOutputLength);
  // Outside the try: a missing binding is a set-up problem, never a corrupt block.
  const binding = snappy();
  let out: Buffer;
  try {
    out = binding.uncompressSync(compressed, { asBuffer: true, ...SNAPPY_COPY }) as Buffer;
  } catch (err) {
    throw new CorruptBlockError('snappy', 'malformed', (err as Error).message, { cause: err });
  }
  const expected = asBuffer(data).readUInt32BE(data.byteLength - 4);
  const actual = zlib.crc32(out) >>> 0;
  if (actual !== expected) {
    throw new CorruptBlockError('snappy', 'crc-mismatch', `CRC32 of the data is ${hex32(actual)}, the block says ${hex32(expected)}`);
  }
  return out;
}

/** The little-endian base-128 varint (at most 32 bits) that opens a raw snappy block. */
function snappyDeclaredLength(compressed: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = compressed[i];
    if (b === undefined) break;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  throw new CorruptBlockError('snappy', 'malformed', 'the uncompressed-length preamble is truncated or longer than 5 bytes');
}

function tooLarge(codec: CodecName, maxOutputLength: number, cause?: unknown): CorruptBlockError {
  return new CorruptBlockError(codec, 'too-large', `decompresses to more than the ${maxOutputLength}-byte limit`, { cause });
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** A Buffer over the same memory, so callers can hand us any Uint8Array without a copy. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
