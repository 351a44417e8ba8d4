// Tests for services/wire/avro-container.ts: files we frame from compressed bodies are read back by avsc, and we read avsc's files; bad files are refused with the offset named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import {
  AVRO_MAGIC,
  ContainerWriter,
  CorruptContainerError,
  encodeBlock,
  encodeBlockPrefix,
  encodeContainerHeader,
  encodeLong,
  iterateBlocks,
  longByteLength,
  newSyncMarker,
  parseContainer,
  parseContainerHeader,
  readLong,
  writeLong,
} from '../../services/wire/avro-container.ts';
import { CODEC_NAMES, compressBlock, decompressBlock, type CodecName } from '../../services/wire/codecs.ts';
import { compileSkipper, proveRecordCount } from '../../services/wire/record-skipper.ts';
import { TRACK_PLAYED_SCHEMA, trackPlayed, trackPlayedBody, type TrackPlayed } from './fixtures.ts';

const SCHEMA_JSON = JSON.stringify(TRACK_PLAYED_SCHEMA);
const longType = avro.Type.forSchema('long');

/** A file of three blocks (5, 1 and 200 records), bodies encoded by avsc and compressed with `codec`. */
function writeTrackFile(codec: CodecName, sync = newSyncMarker()): { file: Buffer; expected: TrackPlayed[] } {
  const writer = new ContainerWriter({ schemaJson: SCHEMA_JSON, codec, sync, meta: { 'hourglass.type': 'track_played' } });
  const expected: TrackPlayed[] = [];
  let next = 0;
  for (const count of [5, 1, 200]) {
    writer.appendBlock(count, compressBlock(codec, trackPlayedBody(count, next)));
    for (let i = next; i < next + count; i++) expected.push(trackPlayed(i));
    next += count;
  }
  assert.equal(writer.recordCount, 206);
  assert.equal(writer.blockCount, 3);
  const file = writer.toBuffer();
  assert.equal(file.length, writer.byteLength);
  assert.deepEqual(Buffer.concat(writer.pieces()), file);
  return { file, expected };
}

/** Reads every record of `file` with avsc's own container decoder. */
async function decodeWithAvsc(file: Buffer, codecs?: Record<string, (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => void>): Promise<unknown[]> {
  const decoder = new avro.streams.BlockDecoder(codecs ? { codecs } : {});
  const records: unknown[] = [];
  decoder.on('data', (record: unknown) => records.push(record));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  decoder.end(file);
  await done;
  return records;
}

/** avsc ships null and deflate; zstandard and snappy are plugged in from our codecs (its framing is still avsc's). */
const AVSC_CODECS = {
  ...avro.streams.BlockDecoder.defaultCodecs(),
  zstandard: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, decompressBlock('zstandard', buf)),
  snappy: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, decompressBlock('snappy', buf)),
};

function plain(records: unknown[]): unknown[] {
  return records.map((r) => ({ ...(r as object) }));
}

function assertCorrupt(fn: () => unknown, message: RegExp, offset: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CorruptContainerError, `expected CorruptContainerError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.offset, offset);
    assert.match(err.message, new RegExp(`at byte ${offset}$`));
    return true;
  });
}

describe('zig-zag varint longs', () => {
  const values = [0, -1, 1, 63, -64, 64, -65, 127, 128, 8191, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 40 + 7, -(2 ** 47) - 3,
    Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1];

  /** The spec's definition, in exact BigInt arithmetic: zig-zag, then 7 bits per byte, low first. */
  function reference(value: number): Buffer {
    let z = value >= 0 ? BigInt(value) * 2n : -BigInt(value) * 2n - 1n;
    const bytes: number[] = [];
    while (z >= 0x80n) {
      bytes.push(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    bytes.push(Number(z));
    return Buffer.from(bytes);
  }

  it('encode as the spec says (and as avsc does, within its range), and decode back', () => {
    for (const value of values) {
      const ours = encodeLong(value);
      assert.deepEqual(ours, reference(value), String(value));
      if (Math.abs(value) < 2 ** 52) assert.deepEqual(ours, longType.toBuffer(value), String(value));
      assert.equal(longByteLength(value), ours.length);
      const buf = Buffer.alloc(ours.length + 2);
      assert.equal(writeLong(buf, 1, value), 1 + ours.length);
      assert.deepEqual(readLong(buf, 1), { value, next: 1 + ours.length });
    }
  });

  it('refuse values a double cannot hold exactly', () => {
    for (const value of [2 ** 53, -(2 ** 53) - 2, 0.5, Number.NaN, Infinity]) assert.throws(() => encodeLong(value), RangeError);
  });

  it('refuse truncated, over-long and out-of-range varints when reading', () => {
    assertCorrupt(() => readLong(Buffer.from([0x80, 0x80]), 0), /truncated long/, 0);
    assertCorrupt(() => readLong(Buffer.from([1, ...Array(10).fill(0xff), 0x01]), 1), /longer than 10 bytes/, 1);
    // 2^53 as zig-zag: magnitude 2^53, sign 0.
    assertCorrupt(() => readLong(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]), 0), /beyond 2\^53/, 0);
  });
});

describe('framing', () => {
  it('a block prefix is the count and the size as longs; a block is prefix, body and sync, body not copied', () => {
    assert.deepEqual(encodeBlockPrefix(3, 300), Buffer.concat([longType.toBuffer(3), longType.toBuffer(300)]));
    const sync = newSyncMarker();
    const body = Buffer.from('body');
    const pieces = encodeBlock(3, body, sync);
    assert.equal(pieces.length, 3);
    assert.equal(pieces[1], body);
    assert.equal(pieces[2], sync);
    assert.throws(() => encodeBlockPrefix(-1, 3), RangeError);
    assert.throws(() => encodeBlock(1, body, Buffer.alloc(15)), RangeError);
  });

  it('the header holds magic, schema, codec, extra metadata and sync, and parses back', () => {
    const sync = newSyncMarker();
    assert.equal(sync.length, 16);
    const header = encodeContainerHeader({ schemaJson: SCHEMA_JSON, codec: 'zstandard', sync, meta: { owner: 'team-é' } });
    assert.deepEqual(header.subarray(0, 4), Buffer.from('Obj\x01', 'latin1'));
    assert.deepEqual(AVRO_MAGIC, Buffer.from([0x4f, 0x62, 0x6a, 0x01]));
    const parsed = parseContainerHeader(header);
    assert.deepEqual(parsed, { schemaJson: SCHEMA_JSON, codec: 'zstandard', sync, meta: { owner: 'team-é' }, byteLength: header.length });
  });

  it('the header refuses reserved metadata keys and a schema that is not JSON', () => {
    const sync = newSyncMarker();
    assert.throws(() => encodeContainerHeader({ schemaJson: '{', codec: 'null', sync }), /not JSON/);
    assert.throws(() => encodeContainerHeader({ schemaJson: '"long"', codec: 'null', sync, meta: { 'avro.x': '1' } }), /reserved/);
  });

  it('the writer refuses a block of no records', () => {
    const writer = new ContainerWriter({ schemaJson: '"long"', codec: 'null' });
    assert.throws(() => writer.appendBlock(0, Buffer.alloc(0)), RangeError);
    assert.equal(writer.sync.length, 16);
  });

  for (const codec of CODEC_NAMES) {
    it(`${codec}: parseContainer gives back each block's count and compressed body, which proves its count`, () => {
      const sync = newSyncMarker();
      const { file } = writeTrackFile(codec, sync);
      const { header, blocks } = parseContainer(file);
      assert.deepEqual(header.sync, sync);
      assert.equal(header.codec, codec);
      assert.deepEqual(header.meta, { 'hourglass.type': 'track_played' });
      assert.deepEqual(blocks.map((b) => b.count), [5, 1, 200]);
      assert.equal(blocks[0]!.offset, header.byteLength);
      let next = 0;
      const skipper = compileSkipper(header.schemaJson);
      for (const block of blocks) {
        assert.equal(block.body.buffer, file.buffer, 'the body is a view of the file');
        const datums = decompressBlock(header.codec, block.body);
        assert.deepEqual(datums, trackPlayedBody(block.count, next));
        assert.deepEqual(proveRecordCount(skipper, datums, block.count), { ok: true });
        next += block.count;
      }
      const last = blocks.at(-1)!;
      assert.equal(last.offset + last.byteLength, file.length);
    });
  }
});

describe('avsc reads what we write', () => {
  for (const codec of ['null', 'deflate'] as const) {
    it(`${codec}: with avsc's own codecs`, async () => {
      const { file, expected } = writeTrackFile(codec);
      assert.deepEqual(plain(await decodeWithAvsc(file)), expected);
    });
  }
  for (const codec of ['zstandard', 'snappy'] as const) {
    it(`${codec}: avsc's framing with our decompression`, async () => {
      const { file, expected } = writeTrackFile(codec);
      assert.deepEqual(plain(await decodeWithAvsc(file, AVSC_CODECS)), expected);
    });
  }
});

describe('we read what avsc writes', () => {
  for (const codec of ['null', 'deflate'] as const) {
    it(`${codec}: a file from avsc's BlockEncoder`, async () => {
      const values = Array.from({ length: 300 }, (_, i) => trackPlayed(i));
      const encoder = new avro.streams.BlockEncoder(TRACK_PLAYED_SCHEMA as unknown as avro.Schema, { codec, blockSize: 4096 });
      const chunks: Buffer[] = [];
      encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
      const done = new Promise((resolve) => encoder.on('end', resolve));
      for (const value of values) encoder.write(value);
      encoder.end();
      await done;
      const { header, blocks } = parseContainer(Buffer.concat(chunks));
      assert.ok(blocks.length > 1, 'several blocks');
      const skipper = compileSkipper(header.schemaJson);
      const type = avro.Type.forSchema(JSON.parse(header.schemaJson) as avro.Schema);
      const decoded: unknown[] = [];
      for (const block of blocks) {
        const datums = decompressBlock(header.codec, block.body);
        assert.deepEqual(proveRecordCount(skipper, datums, block.count), { ok: true });
        for (let pos = 0; pos < datums.length; ) {
          const { value, offset } = type.decode(datums, pos);
          decoded.push(value);
          pos = offset;
        }
      }
      assert.deepEqual(plain(decoded), values);
    });
  }
});

describe('corrupt files are refused, naming the offset', () => {
  const sync = newSyncMarker();
  const { file } = writeTrackFile('deflate', sync);
  const { header, blocks } = parseContainer(file);
  const second = blocks[1]!;
  const secondSyncAt = second.offset + second.byteLength - 16;

  it('bad magic', () => {
    const bad = Buffer.from(file);
    bad[3] = 0x02;
    assertCorrupt(() => parseContainer(bad), /bad magic/, 0);
    assertCorrupt(() => parseContainer(Buffer.from('Ob')), /bad magic/, 0);
  });

  it('wrong sync marker after a block', () => {
    const bad = Buffer.from(file);
    bad[secondSyncAt + 7]! ^= 0xff;
    assertCorrupt(() => parseContainer(bad), /sync marker does not match/, secondSyncAt);
  });

  it('truncated block body', () => {
    assertCorrupt(() => parseContainer(file.subarray(0, second.offset + 5)), /truncated block: \d+ body bytes declared/, second.offset);
  });

  it('truncated sync marker', () => {
    assertCorrupt(() => parseContainer(file.subarray(0, secondSyncAt + 10)), /no room for its sync marker/, secondSyncAt);
  });

  it('truncated block prefix', () => {
    const cut = Buffer.concat([file.subarray(0, second.offset), Buffer.from([0x80])]);
    assertCorrupt(() => parseContainer(cut), /truncated long/, second.offset);
  });

  it('negative record count or size', () => {
    const rest = (count: number, size: number) =>
      Buffer.concat([file.subarray(0, header.byteLength), encodeLong(count), encodeLong(size), Buffer.alloc(4), sync]);
    assertCorrupt(() => parseContainer(rest(-2, 4)), /negative block record count -2/, header.byteLength);
    assertCorrupt(() => parseContainer(rest(2, -4)), /negative block size -4/, header.byteLength + 1);
  });

  it('oversized block size', () => {
    const bad = Buffer.concat([file.subarray(0, header.byteLength), encodeLong(1), encodeLong(2 ** 40), Buffer.alloc(4), sync]);
    assertCorrupt(() => parseContainer(bad), /truncated block: 1099511627776 body bytes declared, 20 left/, header.byteLength);
  });

  it('a header with no schema, an unsupported codec, or no sync marker', () => {
    const headerWith = (entries: [string, string][]) =>
      Buffer.concat([AVRO_MAGIC, encodeLong(entries.length), ...entries.flatMap(([k, v]) => [encodeLong(k.length), Buffer.from(k), encodeLong(v.length), Buffer.from(v)]), encodeLong(0), sync]);
    assertCorrupt(() => parseContainerHeader(headerWith([['avro.codec', 'null']])), /no avro.schema/, 4);
    assertCorrupt(() => parseContainerHeader(headerWith([['avro.schema', '"long"'], ['avro.codec', 'xz']])), /unsupported codec "xz"/, 4);
    assert.equal(parseContainerHeader(headerWith([['avro.schema', '"long"']])).codec, 'null', 'a missing codec means null');
    assertCorrupt(() => parseContainerHeader(file.subarray(0, header.byteLength - 1)), /no sync marker/, header.byteLength - 16);
  });

  it('iterateBlocks walks from any block boundary', () => {
    const fromSecond = [...iterateBlocks(file, second.offset, sync)];
    assert.deepEqual(fromSecond.map((b) => b.count), [1, 200]);
  });
});
