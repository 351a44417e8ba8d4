// fast-check arbitraries for encoded Avro values of a schema tree, valid or not: canonical encodings written by hand (not by avsc), whose contents stray outside every value rule.
//
// For the worker's side of "one definition of valid": bytes a producer could not have sent through
// the SDK or the gateway (invalid UTF-8, an int past 32 bits, a long past ±LONG_MAX, a date in year
// 10000, a bad enum index or union branch, the map key "__proto__"…), mixed with bytes it could.
// Encodings are canonical (shortest varints, one block per array or map), so a valid value's bytes
// are exactly what avsc writes for it.
import fc from 'fast-check';
import type { SchemaNode } from '../../services/registry/schema-tree.ts';
import { decimalToBytes, type ValueRule } from '../../services/registry/valid-values.ts';

/** Zigzag varint of a 64-bit integer. */
export function varint(n: bigint): Buffer {
  let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
  const out: number[] = [];
  do {
    let byte = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) byte |= 0x80;
    out.push(byte);
  } while (z > 0n);
  return Buffer.from(out);
}

const withLength = (bytes: Buffer) => Buffer.concat([varint(BigInt(bytes.length)), bytes]);

/** UTF-8 text, or bytes that are not UTF-8 (a stray continuation byte, an overlong form, an encoded surrogate, a cut sequence, 0xFF). */
const stringBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }).map((s) => Buffer.from(s, 'utf8')), weight: 4 },
  {
    arbitrary: fc
      .tuple(fc.string({ maxLength: 3 }), fc.constantFrom([0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82], [0xff], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98]), fc.string({ maxLength: 3 }))
      .map(([a, bad, b]) => Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)])),
    weight: 1,
  },
);

/** Integers in and around [min, max], and far outside it (within `bits` bits). */
function integerAround(min: number, max: number, bits: number): fc.Arbitrary<bigint> {
  const lo = BigInt(min);
  const hi = BigInt(max);
  const limit = (1n << BigInt(bits - 1)) - 1n;
  return fc.oneof(
    fc.constantFrom(lo, hi, lo - 1n, hi + 1n, 0n, -1n),
    fc.bigInt({ min: lo, max: hi }),
    fc.bigInt({ min: -limit - 1n, max: limit }),
  );
}

function ruleBytes(rule: ValueRule): fc.Arbitrary<Buffer> {
  switch (rule.type) {
    case 'null':
      return fc.constant(Buffer.alloc(0));
    case 'boolean':
      return fc.constantFrom(0, 1, 0, 1, 2, 0xff).map((b) => Buffer.from([b]));
    case 'int':
      // Five bytes at most: a longer varint is refused for its length, whatever the rules say.
      return integerAround(rule.min, rule.max, 35).map(varint);
    case 'long':
      return integerAround(rule.min, rule.max, 64).map(varint);
    case 'float':
      return fc.float().map((f) => {
        const b = Buffer.alloc(4);
        b.writeFloatLE(f);
        return b;
      });
    case 'double':
      return fc.double().map((d) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(d);
        return b;
      });
    case 'string':
      return (rule.uuid ? fc.oneof(fc.uuid().map((u) => Buffer.from(u)), fc.constantFrom('x', '00000000000000000000000000000000').map((u) => Buffer.from(u)), stringBytes) : stringBytes).map(withLength);
    case 'bytes':
      return (rule.decimal ? fc.oneof(fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map((n) => decimalToBytes(n)), fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a))) : fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a))).map(withLength);
    case 'fixed':
      return fc.uint8Array({ minLength: rule.size, maxLength: rule.size }).map((a) => Buffer.from(a));
  }
}

/** Encoded values of `node`, valid and invalid. */
export function encodedValue(node: SchemaNode, depth = 0): fc.Arbitrary<Buffer> {
  const deep = depth >= 3;
  switch (node.kind) {
    case 'value':
      return ruleBytes(node.rule);
    case 'enum':
      return fc.nat({ max: node.symbols.size + 1 }).map((i) => varint(BigInt(i)));
    case 'array':
    case 'map': {
      if (deep) return fc.constant(varint(0n));
      const item =
        node.kind === 'array'
          ? encodedValue(node.items, depth + 1)
          : fc.tuple(fc.oneof({ arbitrary: stringBytes.map(withLength), weight: 5 }, { arbitrary: fc.constant(withLength(Buffer.from('__proto__'))), weight: 1 }), encodedValue(node.values, depth + 1)).map((kv) => Buffer.concat(kv));
      return fc.array(item, { maxLength: 3 }).map((items) => (items.length === 0 ? varint(0n) : Buffer.concat([varint(BigInt(items.length)), ...items, varint(0n)])));
    }
    case 'record':
      return fc.tuple(...node.fields.map((f) => encodedValue(f.node, depth + 1))).map((parts) => Buffer.concat(parts));
    case 'union': {
      // Deep down, only scalar branches, so a recursive schema's values end.
      const branches = node.branches
        .map((b, i) => ({ b, i }))
        .filter(({ b }) => !deep || b.node.kind === 'value' || b.node.kind === 'enum')
        .map(({ b, i }) => encodedValue(b.node, depth + 1).map((v) => Buffer.concat([varint(BigInt(i)), v])));
      if (branches.length === 0) return fc.constant(varint(BigInt(node.branches.length)));
      return fc.oneof({ arbitrary: fc.oneof(...branches), weight: 8 }, { arbitrary: fc.constant(varint(BigInt(node.branches.length))), weight: 1 });
    }
  }
}
