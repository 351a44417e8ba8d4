// Properties of the wire framing (services/wire/avro-container.ts, codecs.ts), run in a worker with a deadline by framing.property.test.ts.
//
// Independent references: fastavro (through fastavro-oracle.ts, with Python's own codec libraries)
// and, for varints, a BigInt zig-zag written here from the spec.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  ContainerWriter,
  CorruptContainerError,
  encodeBlockPrefix,
  encodeLong,
  longByteLength,
  parseContainer,
  readLong,
  writeLong,
} from '../../services/wire/avro-container.ts';
import { CODEC_NAMES, compressBlock, CorruptBlockError, decompressBlock } from '../../services/wire/codecs.ts';
import { asOracleSees, binaryData, damage, damageArb, propertyParameters, text, valueOf } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { TRACK_PLAYED_SCHEMA, trackPlayedType } from './fixtures.ts';

/** Every safe integer, weighted to the extremes and to where a varint gains a byte. */
const safeLong: fc.Arbitrary<number> = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer({ min: -300, max: 300 }),
  fc.integer({ min: 0, max: 53 }).chain((bits) =>
    fc.constantFrom(2 ** bits, 2 ** bits - 1, 2 ** bits + 1, -(2 ** bits), -(2 ** bits) + 1, -(2 ** bits) - 1).filter(Number.isSafeInteger),
  ),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0, -1),
);

/** The Avro spec's long encoding, in exact integer arithmetic: zig-zag, then 7 bits a byte, low bits first. */
function specLong(value: number): Buffer {
  const n = BigInt(value);
  let zigzag = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
  const out: number[] = [];
  do {
    const low = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    out.push(zigzag > 0n ? low | 0x80 : low);
  } while (zigzag > 0n);
  return Buffer.from(out);
}

async function withOracle<T>(run: (oracle: FastavroOracle) => Promise<T>): Promise<T> {
  const oracle = await FastavroOracle.start();
  try {
    return await run(oracle);
  } finally {
    await oracle.close();
  }
}

/** Varints of every safe integer: our writer, our reader, the spec and fastavro agree to the byte. */
export function varintsRoundTrip(numRuns: number): Promise<number> {
  return withOracle(async (oracle) => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(safeLong, { minLength: 1, maxLength: 40 }), fc.nat(20), fc.integer({ min: 0, max: 255 }), async (values, offset, filler) => {
        reportProgress({ values });
        const fromFastavro = await oracle.encodeLongs(values);
        values.forEach((v, i) => {
          const encoded = encodeLong(v);
          assert.ok(encoded.equals(specLong(v)), `${v}: the spec's bytes`);
          assert.ok(encoded.equals(fromFastavro[i]!), `${v}: fastavro's bytes`);
          assert.equal(longByteLength(v), encoded.length);
          // Written in the middle of other bytes, it writes exactly its own.
          const buf = Buffer.alloc(offset + encoded.length + 8, filler);
          assert.equal(writeLong(buf, offset, v), offset + encoded.length);
          assert.ok(buf.subarray(offset, offset + encoded.length).equals(encoded));
          assert.ok(buf.subarray(0, offset).every((b) => b === filler) && buf.subarray(offset + encoded.length).every((b) => b === filler), 'neighbours untouched');
          assert.deepEqual(readLong(buf, offset), { value: v, next: offset + encoded.length });
          checked++;
        });
      }),
      propertyParameters(numRuns),
    );
    return checked;
  });
}

/** Any bytes at all: readLong returns or refuses with CorruptContainerError, and when it returns, fastavro reads the same long from the same bytes. */
export function varintsFromAnyBytes(numRuns: number): Promise<number> {
  return withOracle(async (oracle) => {
    let accepted = 0;
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      // Mostly continuation bytes: long and over-long varints.
      fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 11 }).chain((head) => fc.integer({ min: 0, max: 0x7f }).map((last) => Uint8Array.from([...head, last]))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(bytes, { minLength: 1, maxLength: 30 }), async (inputs) => {
        reportProgress({ inputs: inputs.map((b) => Buffer.from(b).toString('hex')) });
        const buffers = inputs.map((b) => Buffer.from(b));
        const theirs = await oracle.decodeLongs(buffers);
        buffers.forEach((buf, i) => {
          let ours: { value: number; next: number } | CorruptContainerError;
          try {
            ours = readLong(buf, 0);
          } catch (err) {
            assert.ok(err instanceof CorruptContainerError, `${buf.toString('hex')}: only CorruptContainerError, got ${String(err)}`);
            ours = err;
          }
          const their = theirs[i]!;
          if (ours instanceof CorruptContainerError) {
            if (/beyond 2\^53/.test(ours.message)) {
              assert.ok('value' in their, `${buf.toString('hex')}: fastavro reads it`);
              assert.ok(their.value >= 2n ** 53n || their.value < -(2n ** 53n), `${buf.toString('hex')}: refused as beyond 2^53, fastavro reads ${their.value}`);
            } else if (/truncated/.test(ours.message)) {
              assert.ok('error' in their, `${buf.toString('hex')}: truncated for us, fastavro read ${JSON.stringify(their, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
            }
            return;
          }
          accepted++;
          assert.ok(ours.next >= 1 && ours.next <= 10);
          assert.ok('value' in their, `${buf.toString('hex')}: we read ${ours.value}, fastavro fails: ${'error' in their ? their.error : ''}`);
          assert.equal(BigInt(ours.value), their.value, `${buf.toString('hex')}: the same value`);
          assert.equal(ours.next, their.next, `${buf.toString('hex')}: the same length`);
        });
      }),
      propertyParameters(numRuns),
    );
    return accepted;
  });
}

/** Block prefixes at every count and size a safe integer holds. */
export function blockPrefixesRoundTrip(numRuns: number): number {
  const nonNegative = safeLong.map(Math.abs);
  fc.assert(
    fc.property(nonNegative, nonNegative, (count, size) => {
      const prefix = encodeBlockPrefix(count, size);
      const c = readLong(prefix, 0);
      const s = readLong(prefix, c.next);
      assert.deepEqual([c.value, s.value, s.next], [count, size, prefix.length]);
      assert.ok(prefix.equals(Buffer.concat([specLong(count), specLong(size)])));
    }),
    propertyParameters(numRuns),
  );
  return numRuns;
}

const SCHEMA_JSON = JSON.stringify(TRACK_PLAYED_SCHEMA);
const rowArb = valueOf(trackPlayedType, { maxTopLevelBytes: 200_000 });

const fileArb = fc.record({
  codec: fc.constantFrom(...CODEC_NAMES),
  sync: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  meta: fc.dictionary(text(12, 1).filter((k) => !k.startsWith('avro.')), text(30), { maxKeys: 4, noNullPrototype: true }),
  blocks: fc.array(fc.array(rowArb, { minLength: 1, maxLength: 12 }), { maxLength: 6 }),
});

type FileCase = typeof fileArb extends fc.Arbitrary<infer T> ? T : never;

function writeFile(c: FileCase): { writer: ContainerWriter; bodies: Buffer[] } {
  const writer = new ContainerWriter({ schemaJson: SCHEMA_JSON, codec: c.codec, sync: c.sync, meta: c.meta });
  const bodies = c.blocks.map((rows) => compressBlock(c.codec, Buffer.concat(rows.map((r) => trackPlayedType.toBuffer(r)))));
  c.blocks.forEach((rows, i) => writer.appendBlock(rows.length, bodies[i]!));
  return { writer, bodies };
}

/** Container files: our parser and fastavro both read back the header, every block as framed, and every record. */
export function containersRoundTrip(numRuns: number): Promise<number> {
  return withOracle(async (oracle) => {
    let blocks = 0;
    await fc.assert(
      fc.asyncProperty(fileArb, async (c) => {
        reportProgress({ codec: c.codec, meta: c.meta, blocks: c.blocks.map((b) => b.length) });
        const { writer, bodies } = writeFile(c);
        const file = writer.toBuffer();
        assert.equal(file.length, writer.byteLength);
        assert.ok(Buffer.concat(writer.pieces()).equals(file));
        for (const body of bodies) assert.ok(writer.pieces().includes(body), 'a body is held by reference, not copied');
        assert.equal(writer.recordCount, c.blocks.reduce((n, b) => n + b.length, 0));
        assert.equal(writer.blockCount, c.blocks.length);

        const parsed = parseContainer(file);
        assert.deepEqual({ ...parsed.header, sync: Buffer.from(parsed.header.sync), byteLength: 0 }, { schemaJson: SCHEMA_JSON, codec: c.codec, sync: c.sync, meta: c.meta, byteLength: 0 });
        let at = parsed.header.byteLength;
        parsed.blocks.forEach((b, i) => {
          assert.equal(b.offset, at, 'blocks follow each other');
          assert.equal(b.count, c.blocks[i]!.length);
          assert.ok(b.body.equals(bodies[i]!), `block ${i}: the body byte for byte`);
          at += b.byteLength;
        });
        assert.equal(at, file.length, 'the blocks end where the file ends');

        const read = await oracle.readContainer(file);
        assert.equal(read.codec, c.codec);
        assert.deepEqual(read.meta, c.meta);
        assert.deepEqual(read.blocks, c.blocks.map((b) => b.length));
        assert.deepEqual(read.records, c.blocks.flat().map((r) => asOracleSees(trackPlayedType, r)));
        blocks += c.blocks.length;
      }),
      propertyParameters(numRuns),
    );
    return blocks;
  });
}

/** Damaged container files: parseContainer returns (blocks covering the file) or throws CorruptContainerError; nothing else, and it returns. */
export function damagedContainers(numRuns: number): number {
  let refused = 0;
  const smallFile = fileArb.map((c) => ({ ...c, blocks: c.blocks.slice(0, 3).map((rows) => rows.slice(0, 3)) }));
  // A block's prefix rewritten with any count and size (negative ones too; the true size, mostly), beside damage anywhere.
  const reframe = fc.option(fc.record({ block: fc.nat(), count: safeLong, size: fc.option(safeLong, { nil: undefined }) }), { nil: undefined });
  fc.assert(
    fc.property(smallFile, fc.array(damageArb, { maxLength: 3 }), reframe, (c, damages, r) => {
      let file = writeFile(c).writer.toBuffer();
      const blocks = parseContainer(file).blocks;
      if (r !== undefined && blocks.length > 0) {
        const b = blocks[r.block % blocks.length]!;
        const bodyAt = b.body.byteOffset - file.byteOffset;
        file = Buffer.concat([file.subarray(0, b.offset), encodeLong(r.count), encodeLong(r.size ?? b.body.length), file.subarray(bodyAt)]);
      }
      for (const d of damages) file = damage(file, d);
      reportProgress({ file: file.toString('hex') });
      let parsed;
      try {
        parsed = parseContainer(file);
      } catch (err) {
        assert.ok(err instanceof CorruptContainerError, `only CorruptContainerError, got ${String(err)}`);
        refused++;
        return;
      }
      let at = parsed.header.byteLength;
      for (const b of parsed.blocks) {
        assert.equal(b.offset, at, 'blocks follow each other');
        assert.ok(Number.isSafeInteger(b.count) && b.count >= 0, `a record count, not ${b.count}`);
        assert.ok(b.body.length < b.byteLength && b.body.byteOffset - file.byteOffset + b.body.length <= file.length, 'the body lies inside its block');
        at += b.byteLength;
      }
      assert.equal(at, file.length, 'what parses covers the whole file');
    }),
    propertyParameters(numRuns),
  );
  return refused;
}

/** Every codec: our round trip, the same bytes out of Python's decompressors, the output cap honoured; damaged blocks fail only with CorruptBlockError. */
export function codecsRoundTrip(numRuns: number): Promise<number> {
  return withOracle(async (oracle) => {
    let bytes = 0;
    await fc.assert(
      fc.asyncProperty(binaryData(2_000_000), fc.constantFrom(...CODEC_NAMES), damageArb, fc.nat(), async (data, codec, d, capSeed) => {
        reportProgress({ codec, bytes: data.length, damage: d });
        const compressed = compressBlock(codec, data);
        assert.ok(decompressBlock(codec, compressed).equals(data), 'our round trip');
        assert.deepEqual(await oracle.decompress(codec, compressed), { length: data.length, sha256: createHash('sha256').update(data).digest('hex') }, 'Python decompresses the same bytes');
        const cap = data.length === 0 ? 0 : capSeed % (data.length * 2);
        if (cap < data.length) {
          assert.throws(() => decompressBlock(codec, compressed, { maxOutputLength: cap }), (err: unknown) => err instanceof CorruptBlockError && err.reason === 'too-large');
        } else {
          assert.ok(decompressBlock(codec, compressed, { maxOutputLength: cap }).equals(data));
        }
        try {
          decompressBlock(codec, damage(compressed, d));
        } catch (err) {
          assert.ok(err instanceof CorruptBlockError, `damaged ${codec}: only CorruptBlockError, got ${String(err)}`);
        }
        bytes += data.length;
      }),
      propertyParameters(numRuns),
    );
    return bytes;
  });
}
