// Tests for services/wire/codecs.ts: every codec round-trips, and bad or oversized blocks are refused with a typed error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  CODEC_NAMES,
  CorruptBlockError,
  UnknownCodecError,
  compressBlock,
  decompressBlock,
  isCodecName,
  type CodecName,
} from '../../services/wire/codecs.ts';

/** Event-like data: repetitive text with some noise, so every codec really compresses. */
function sampleData(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const part = Buffer.from(`user-${i % 97};spotify:track:${randomBytes(4).toString('hex')};${i * 1000};`);
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

function assertCorrupt(fn: () => unknown, reason: CorruptBlockError['reason'], message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CorruptBlockError, `expected CorruptBlockError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('codec names', () => {
  it('lists exactly the four codecs of the Avro spec we support', () => {
    assert.deepEqual([...CODEC_NAMES], ['null', 'deflate', 'zstandard', 'snappy']);
    for (const name of CODEC_NAMES) assert.ok(isCodecName(name));
    for (const name of ['bzip2', 'xz', 'zstd', 'DEFLATE', '']) assert.ok(!isCodecName(name));
  });

  it('refuses an unknown codec in both directions', () => {
    const bogus = 'bzip2' as CodecName;
    assert.throws(() => compressBlock(bogus, Buffer.from('x')), UnknownCodecError);
    assert.throws(() => decompressBlock(bogus, Buffer.from('x')), /unknown Avro codec "bzip2"/);
  });
});

describe('round trips', () => {
  for (const codec of CODEC_NAMES) {
    it(`${codec}: empty, small and 1 MiB blocks come back unchanged`, () => {
      for (const data of [Buffer.alloc(0), Buffer.from('a'), sampleData(1000), sampleData(1024 * 1024)]) {
        const compressed = compressBlock(codec, data);
        assert.deepEqual(decompressBlock(codec, compressed), data);
        if (codec !== 'null' && data.length >= 1000) assert.ok(compressed.length < data.length * 0.8, `${codec} compresses`);
      }
    });
  }

  it('accepts a plain Uint8Array, not only a Buffer', () => {
    const data = new Uint8Array(sampleData(500));
    for (const codec of CODEC_NAMES) assert.deepEqual(decompressBlock(codec, compressBlock(codec, data)), Buffer.from(data));
  });

  it('honours an explicit level', () => {
    const data = sampleData(100_000);
    assert.deepEqual(decompressBlock('deflate', compressBlock('deflate', data, 9)), data);
    assert.deepEqual(decompressBlock('zstandard', compressBlock('zstandard', data, 19)), data);
  });
});

describe('the bytes are what the Avro spec says', () => {
  const data = sampleData(5000);

  it('deflate is raw deflate, with no zlib header', () => {
    assert.deepEqual(zlib.inflateRawSync(compressBlock('deflate', data)), data);
    assert.deepEqual(decompressBlock('deflate', zlib.deflateRawSync(data, { level: 6 })), data);
  });

  it('zstandard is a zstd frame', () => {
    const frame = compressBlock('zstandard', data);
    assert.deepEqual(frame.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    assert.deepEqual(zlib.zstdDecompressSync(frame), data);
  });

  it('snappy ends with the big-endian CRC32 of the uncompressed data', () => {
    const block = compressBlock('snappy', data);
    assert.equal(block.readUInt32BE(block.length - 4), zlib.crc32(data) >>> 0);
  });
});

describe('corrupt blocks', () => {
  const data = sampleData(5000);

  it('snappy: a CRC mismatch is detected', () => {
    const block = compressBlock('snappy', data);
    block[block.length - 1]! ^= 0x01;
    assertCorrupt(() => decompressBlock('snappy', block), 'crc-mismatch', /CRC32/);
  });

  it('snappy: a block too short for its CRC, or with garbage, is malformed', () => {
    assertCorrupt(() => decompressBlock('snappy', Buffer.from([1, 2])), 'malformed');
    assertCorrupt(() => decompressBlock('snappy', Buffer.from([5, 0xff, 0xff, 1, 2, 3, 4])), 'malformed');
  });

  it('deflate and zstandard: garbage and truncation are malformed', () => {
    for (const codec of ['deflate', 'zstandard'] as const) {
      const block = compressBlock(codec, data);
      assertCorrupt(() => decompressBlock(codec, block.subarray(0, block.length - 3)), 'malformed');
      assertCorrupt(() => decompressBlock(codec, Buffer.from('definitely not compressed')), 'malformed');
    }
  });

  it('deflate: bytes after the end of the stream are refused, not ignored', () => {
    const block = Buffer.concat([compressBlock('deflate', data), Buffer.from('junk')]);
    assertCorrupt(() => decompressBlock('deflate', block), 'malformed', /4 bytes after the end/);
  });
});

describe('output size cap', () => {
  const zeros = Buffer.alloc(4 * 1024 * 1024);

  for (const codec of CODEC_NAMES) {
    it(`${codec}: a block that decompresses past maxOutputLength is refused`, () => {
      const block = compressBlock(codec, zeros);
      assertCorrupt(() => decompressBlock(codec, block, { maxOutputLength: 1024 * 1024 }), 'too-large', /1048576-byte limit/);
      assert.equal(decompressBlock(codec, block, { maxOutputLength: zeros.length }).length, zeros.length);
    });
  }

  it('every codec: a cap of 0 bytes takes an empty block and refuses any other as too large (zlib itself refuses a cap below 1)', () => {
    for (const codec of CODEC_NAMES) {
      assert.equal(decompressBlock(codec, compressBlock(codec, Buffer.alloc(0)), { maxOutputLength: 0 }).length, 0, codec);
      assertCorrupt(() => decompressBlock(codec, compressBlock(codec, Buffer.from('x')), { maxOutputLength: 0 }), 'too-large', /0-byte limit/);
    }
  });

  it('the default cap (64 MiB) stops a deflate bomb', () => {
    // ~65 KiB of deflate that inflates to 65 MiB.
    const bomb = zlib.deflateRawSync(Buffer.alloc(65 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 100 * 1024);
    assertCorrupt(() => decompressBlock('deflate', bomb), 'too-large');
  });

  it('snappy: a lying length preamble is refused before anything is allocated', () => {
    // Preamble claims 2^32 - 1 bytes.
    const block = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0]);
    assertCorrupt(() => decompressBlock('snappy', block), 'too-large');
  });
});
