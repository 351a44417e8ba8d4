// Test helper: fast-check generators for the encoding and framing property tests: well-formed text over every Unicode plane, from empty to past a megabyte, and values of any avsc type.
//
// What counts as a *valid* value at the edges (lone surrogates, numeric ranges) is the validity
// tests' business; these generators only make values every part already accepts, and aim at sizes
// and contents that stress buffers: every UTF-8 length class, and strings near and past buffer sizes.
import type avro from 'avsc';
import fc from 'fast-check';
import { seededRandom } from '../wire/fixtures.ts';

/**
 * The seed of every property run: fixed, so a run repeats exactly; fast-check prints it (and the
 * path of the failing case) when a property fails. HOURGLASS_PROPERTY_SEED explores other cases.
 */
export const PROPERTY_SEED = Number(process.env.HOURGLASS_PROPERTY_SEED ?? 20_261_122);

/**
 * How long one property may run, shrinking included, before fast-check stops and reports the
 * smallest failing case found so far: below the deadline the tests give their worker (120 s),
 * so a slow shrink still ends in a report, not in a killed worker.
 */
const PROPERTY_TIME_LIMIT_MS = 90_000;

/** The fast-check parameters of every property: `numRuns`, the fixed seed, the time limit (running out of time fails the test). */
export function propertyParameters(numRuns: number): fc.Parameters<unknown> {
  return { numRuns, seed: PROPERTY_SEED, plugins: [fc.interruptAfterTimeLimit(PROPERTY_TIME_LIMIT_MS, { failOnInterrupt: true })] };
}

/** A code point of each UTF-8 length class and every plane, plus the edges between them. Never a surrogate. */
export const codePoint: fc.Arbitrary<string> = fc
  .oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
    fc.constantFrom(0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xffff, 0x10000, 0x1f600, 0xeffff, 0x10ffff),
  )
  .map((cp) => String.fromCodePoint(cp));

/** Well-formed text of up to `maxCodePoints` code points. */
export function text(maxCodePoints: number, minCodePoints = 0): fc.Arbitrary<string> {
  return fc.string({ unit: codePoint, minLength: minCodePoints, maxLength: maxCodePoints });
}

/**
 * Text from empty to about `maxBytes` of UTF-8: mostly short; sometimes a random head and a random
 * unit repeated to a random byte size (so megabyte strings cost one repeat, not a million draws).
 */
export function sizedText(maxBytes: number, largeWeight = 1): fc.Arbitrary<string> {
  const large = fc
    .record({ head: text(8), unit: text(6, 1), bytes: fc.integer({ min: 0, max: maxBytes }) })
    .map(({ head, unit, bytes }) => head + unit.repeat(Math.floor(bytes / Buffer.byteLength(unit))));
  // A code point is at most 4 bytes of UTF-8.
  const fits = (codePoints: number) => text(Math.min(codePoints, Math.floor(maxBytes / 4)));
  return fc.oneof({ weight: 6, arbitrary: fits(40) }, { weight: 2, arbitrary: fits(400) }, { weight: largeWeight, arbitrary: large });
}

/** avsc's largest long (it refuses 2^53 - 1). */
export const MAX_AVSC_LONG = Number.MAX_SAFE_INTEGER - 1;
/**
 * The smallest long avsc encodes and decodes exactly. Below it, avsc's zig-zag in doubles (-2n-1)
 * rounds: -2^52-1 is written and read as +2^52. Which longs hourglass accepts is the validity
 * tests' business; these tests stay where the library is exact.
 */
export const MIN_EXACT_AVSC_LONG = -(2 ** 52);

/** A long anywhere in the range avsc handles exactly, biased to the edges of varint byte lengths and the extremes. */
export const anyLong: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: MIN_EXACT_AVSC_LONG, max: MAX_AVSC_LONG }),
  fc.integer({ min: -200, max: 200 }),
  fc
    .integer({ min: 0, max: 52 })
    .chain((bits) => fc.constantFrom(2 ** bits - 1, 2 ** bits, -(2 ** bits), -(2 ** bits) - 1).filter((n) => n >= MIN_EXACT_AVSC_LONG && n <= MAX_AVSC_LONG)),
  fc.constantFrom(MAX_AVSC_LONG, MIN_EXACT_AVSC_LONG),
);

export interface ValueOptions {
  /** Largest string or bytes value at the top level of a record (deeper ones stay short). */
  readonly maxTopLevelBytes: number;
  /** How often a top-level string is a large one, against 8 for short ones. Default: 1. */
  readonly largeWeight?: number;
}

/** Values of an avsc type (records, every primitive, enums, fixed, arrays, maps, unwrapped unions). Finite floats only. */
export function valueOf(type: avro.Type, o: ValueOptions, depth = 0): fc.Arbitrary<unknown> {
  const t = type as avro.Type & Record<string, unknown>;
  switch (type.typeName) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0, -1, 63, 64, -65));
    case 'long':
      return anyLong;
    case 'float':
      return fc.float({ noNaN: true, noDefaultInfinity: true });
    case 'double':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'string':
      return depth <= 1 ? sizedText(o.maxTopLevelBytes, o.largeWeight) : text(20);
    case 'bytes':
      return depth <= 1
        ? fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.record({ byte: fc.integer({ min: 0, max: 255 }), n: fc.integer({ min: 0, max: o.maxTopLevelBytes }) }).map(({ byte, n }) => new Uint8Array(n).fill(byte))).map((a) => Buffer.from(a))
        : fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a));
    case 'fixed':
      return fc.uint8Array({ minLength: t.size as number, maxLength: t.size as number }).map((a) => Buffer.from(a));
    case 'enum':
      return fc.constantFrom(...(t.symbols as string[]));
    case 'array':
      return fc.array(valueOf(t.itemsType as avro.Type, o, depth + 1), { maxLength: 4 });
    case 'map':
      return fc.dictionary(text(6), valueOf(t.valuesType as avro.Type, o, depth + 1), { maxKeys: 3, noNullPrototype: true });
    case 'union:unwrapped':
      return fc.oneof(...(t.types as avro.Type[]).map((branch) => valueOf(branch, o, depth + 1)));
    case 'record': {
      const fields = (type as avro.types.RecordType).fields;
      return fc.record(Object.fromEntries(fields.map((f) => [f.name, valueOf(f.type, o, depth + 1)])), { noNullPrototype: true });
    }
    default:
      if (type.typeName.startsWith('logical:')) return valueOf((t.underlyingType as avro.Type) ?? type, o, depth);
      throw new Error(`no generator for avsc type ${type.typeName}`);
  }
}

/**
 * A value of `type` in the shape fastavro-oracle.ts reports records: bytes and fixed as {"$bytes": hex},
 * floats as the float32 they are stored as.
 */
export function asOracleSees(type: avro.Type, value: unknown): unknown {
  const t = type as avro.Type & Record<string, unknown>;
  switch (type.typeName) {
    case 'bytes':
    case 'fixed':
      return { $bytes: (value as Buffer).toString('hex') };
    case 'float':
      return Math.fround(value as number);
    case 'array':
      return (value as unknown[]).map((v) => asOracleSees(t.itemsType as avro.Type, v));
    case 'map':
      return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, asOracleSees(t.valuesType as avro.Type, v)]));
    case 'union:unwrapped': {
      const branch = (t.types as avro.Type[]).find((b) => b.isValid(value));
      return branch ? asOracleSees(branch, value) : value;
    }
    case 'record':
      return Object.fromEntries((type as avro.types.RecordType).fields.map((f) => [f.name, asOracleSees(f.type, (value as Record<string, unknown>)[f.name])]));
    default:
      return value;
  }
}

/**
 * Binary data from empty to `maxBytes`: incompressible (seeded pseudo-random), or a short random
 * chunk repeated (compressible), or a little of both. Made from a seed, not drawn byte by byte.
 */
export function binaryData(maxBytes: number): fc.Arbitrary<Buffer> {
  return fc
    .record({
      seed: fc.integer(),
      randomBytes: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: maxBytes })),
      chunk: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      repeats: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: maxBytes })),
    })
    .map(({ seed, randomBytes, chunk, repeats }) => {
      const next = seededRandom(seed);
      const noise = Buffer.allocUnsafe(randomBytes);
      for (let i = 0; i < randomBytes; i++) noise[i] = Math.floor(next() * 256);
      const runs = Buffer.alloc(Math.min(repeats * chunk.length, maxBytes));
      for (let i = 0; i < runs.length; i++) runs[i] = chunk[i % chunk.length]!;
      return Buffer.concat([noise, runs]);
    });
}

/** One way to damage bytes: cut them short, flip bits of one byte, insert bytes, or add bytes at the end. Positions are taken modulo the length. */
export type Damage =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flip'; readonly at: number; readonly xor: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'append'; readonly bytes: Uint8Array };

export const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
);

/** `data` damaged as `d` says: always different bytes (a truncation of empty data stays empty). */
export function damage(data: Buffer, d: Damage): Buffer {
  const at = data.length === 0 ? 0 : d.kind === 'append' ? data.length : d.at % data.length;
  switch (d.kind) {
    case 'truncate':
      return data.subarray(0, at);
    case 'flip': {
      if (data.length === 0) return Buffer.from([d.xor]);
      const out = Buffer.from(data);
      out[at] = out[at]! ^ d.xor;
      return out;
    }
    case 'insert':
    case 'append':
      return Buffer.concat([data.subarray(0, at), d.bytes, data.subarray(at)]);
  }
}
