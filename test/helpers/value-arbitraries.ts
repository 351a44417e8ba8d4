// fast-check arbitraries for the values of a schema tree (services/registry/schema-tree.ts): valid values over each type's full range, and near misses that break one rule at a known path.
//
// Valid values reach the extremes on purpose: the ends of every integer and logical range, NaN,
// ±Infinity, ±0, the largest and smallest floats, strings from every Unicode plane (astral ones as
// surrogate pairs), empty and huge strings, bytes, arrays and maps. A near miss is a valid value with
// exactly one fault (a lone surrogate, a number one past a range, a missing field, an inherited name
// such as "toString" as an enum symbol…), and the path where a validator must report it.
import fc from 'fast-check';
import type { RecordNode, SchemaNode, UnionNode } from '../../services/registry/schema-tree.ts';
import { decimalToBytes, FLOAT_MAX, LONG_MAX, type ValueRule } from '../../services/registry/valid-values.ts';

export interface ValueArbitraryOptions {
  /** Containers nested deeper than this are empty (and unions prefer a scalar branch). Default 3. */
  readonly maxDepth?: number;
  /** Longest ordinary string, byte string, array and map; a few values are far larger ("huge"). Default 8. */
  readonly maxLength?: number;
  /** Whether some strings and byte strings are huge (tens of KB). Default true. */
  readonly huge?: boolean;
}

interface Settings {
  readonly maxDepth: number;
  readonly maxLength: number;
  readonly huge: boolean;
}

const settingsOf = (o: ValueArbitraryOptions): Settings => ({ maxDepth: o.maxDepth ?? 3, maxLength: o.maxLength ?? 8, huge: o.huge ?? true });

/** Valid values of `node`, in avsc's representation (the SDK's). */
export function validValue(node: SchemaNode, options: ValueArbitraryOptions = {}): fc.Arbitrary<unknown> {
  return valid(node, settingsOf(options), 0);
}

/** A lone surrogate, high or low. */
export const loneSurrogate: fc.Arbitrary<string> = fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => String.fromCharCode(u));

/** Strings from every plane, now and then empty or huge. */
export function anyText(s: Settings): fc.Arbitrary<string> {
  const ordinary = fc.string({ unit: 'binary', maxLength: s.maxLength });
  const arbs: Array<fc.WeightedArbitrary<string>> = [
    { arbitrary: ordinary, weight: 10 },
    { arbitrary: fc.constantFrom('', '\u0000', '\uFEFF', '\uFFFD', '\uFFFF', '\u{10FFFF}', '\u{1F600}', 'é'), weight: 2 },
  ];
  // Huge: a short piece repeated, so generating it is cheap.
  if (s.huge) arbs.push({ arbitrary: fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), fc.integer({ min: 10_000, max: 40_000 })).map(([piece, n]) => piece.repeat(n)), weight: 1 });
  return fc.oneof(...arbs);
}

function bytesOf(s: Settings, size?: number): fc.Arbitrary<Buffer> {
  if (size !== undefined) return fc.uint8Array({ minLength: size, maxLength: size }).map((a) => Buffer.from(a));
  const arbs: Array<fc.WeightedArbitrary<Buffer>> = [{ arbitrary: fc.uint8Array({ maxLength: s.maxLength }).map((a) => Buffer.from(a)), weight: 10 }];
  if (s.huge) arbs.push({ arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 10_000, max: 60_000 })).map(([b, n]) => Buffer.alloc(n, b)), weight: 1 });
  return fc.oneof(...arbs);
}

/** Integers of [min, max], biased to its ends and to small values. */
function integerIn(min: number, max: number): fc.Arbitrary<number> {
  const ends = [min, max, min + 1, max - 1, 0, 1, -1].filter((n) => n >= min && n <= max);
  return fc.oneof(
    { arbitrary: fc.constantFrom(...ends), weight: 2 },
    { arbitrary: fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number), weight: 3 },
    { arbitrary: fc.integer({ min: Math.max(min, -1000), max: Math.min(max, 1000) }), weight: 2 },
  );
}

const FLOAT_EXTREMES = [NaN, Infinity, -Infinity, 0, -0, FLOAT_MAX, -FLOAT_MAX, 1.401298464324817e-45, -1.401298464324817e-45, 1.1754943508222875e-38];

function decimalValue(precision: number, size?: number): fc.Arbitrary<Buffer> {
  const most = 10n ** BigInt(precision) - 1n;
  return fc
    .oneof(fc.constantFrom(0n, most, -most, 1n, -1n), fc.bigInt({ min: -most, max: most }))
    .map((n) => decimalToBytes(n, size));
}

function ruleValue(rule: ValueRule, s: Settings): fc.Arbitrary<unknown> {
  switch (rule.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
    case 'long':
      return integerIn(rule.min, rule.max);
    case 'float':
      // 32-bit floats exactly, and doubles that round to one.
      return fc.oneof(fc.constantFrom(...FLOAT_EXTREMES), fc.float(), fc.double({ min: -FLOAT_MAX, max: FLOAT_MAX, noNaN: true }));
    case 'double':
      return fc.oneof(fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, 0.1), fc.double());
    case 'string':
      return rule.uuid ? fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase())) : anyText(s);
    case 'bytes':
      return rule.decimal ? decimalValue(rule.decimal.precision) : bytesOf(s);
    case 'fixed':
      return rule.decimal ? decimalValue(rule.decimal.precision, rule.size) : bytesOf(s, rule.size);
  }
}

function valid(node: SchemaNode, s: Settings, depth: number): fc.Arbitrary<unknown> {
  const deep = depth >= s.maxDepth;
  switch (node.kind) {
    case 'value':
      return ruleValue(node.rule, s);
    case 'enum':
      return fc.constantFrom(...node.symbols);
    case 'array':
      return deep ? fc.constant([]) : fc.array(valid(node.items, s, depth + 1), { maxLength: s.maxLength });
    case 'map':
      return deep
        ? fc.constant({})
        : fc.array(fc.tuple(anyText({ ...s, huge: false }).filter((k) => k !== '__proto__'), valid(node.values, s, depth + 1)), { maxLength: s.maxLength }).map((entries) => Object.fromEntries(entries));
    case 'record':
      return validRecord(node, s, depth);
    case 'union':
      return fc.oneof(...unionBranches(node, deep).map((b) => valid(b.node, s, depth + 1).map((v) => (node.wrapped && b.bucket !== 'null' ? { [b.name]: v } : v))));
  }
}

function validRecord(node: RecordNode, s: Settings, depth: number): fc.Arbitrary<unknown> {
  // A field with a default may be left out: avsc writes the default.
  const fields = node.fields.map((f) => {
    const value = valid(f.node, s, depth + 1);
    return f.defaultValue === undefined ? value.map((v) => [f.name, v] as const) : fc.option(value.map((v) => [f.name, v] as const), { freq: 4, nil: undefined });
  });
  return fc.tuple(...fields).map((entries) => Object.fromEntries(entries.filter((e) => e !== undefined)));
}

/** A union's branches, without the containers once nesting is deep (when a scalar branch is left). */
function unionBranches(node: UnionNode, deep: boolean) {
  if (!deep) return node.branches;
  const scalar = node.branches.filter((b) => b.node.kind === 'value' || b.node.kind === 'enum');
  return scalar.length > 0 ? scalar : node.branches;
}

// ---------------------------------------------------------------------------------------------

/** A value with one fault, and the dotted path where it is ("" = the value itself). */
export interface NearMiss {
  readonly value: unknown;
  readonly path: string;
  /** What was broken, for a failing property's report. */
  readonly fault: string;
}

/** Near misses of `node`: valid values with exactly one fault. */
export function nearMiss(node: SchemaNode, options: ValueArbitraryOptions = {}): fc.Arbitrary<NearMiss> {
  return miss(node, settingsOf(options), 0);
}

const at = (segment: string, inner: NearMiss): NearMiss => ({ ...inner, path: inner.path === '' ? segment : `${segment}.${inner.path}` });

/** A valid string with a lone surrogate spliced in: short ones (avsc writes its bytes, which are not UTF-8) and long ones (it writes U+FFFD instead). */
function withLoneSurrogate(s: Settings): fc.Arbitrary<string> {
  return fc.tuple(anyText({ ...s, huge: false }), loneSurrogate, fc.nat(), fc.constantFrom(0, 0, 70)).map(([text, lone, cut, pad]) => {
    const base = 'x'.repeat(pad) + text;
    // Cut between code points, so the only lone surrogate is the one spliced in.
    const points = [...base];
    const i = cut % (points.length + 1);
    const out = points.slice(0, i).join('') + lone + points.slice(i).join('');
    // A high surrogate followed by a low one would be a pair, not a fault.
    return out.isWellFormed() ? `${lone}x` : out;
  });
}

function ruleMisses(rule: ValueRule, s: Settings): Array<fc.Arbitrary<{ value: unknown; fault: string }>> {
  // Values of every JavaScript kind but the rule's own.
  const own = { null: 'object', boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number', string: 'string', bytes: '', fixed: '' }[rule.type];
  const wrongKind = fc.constantFrom<unknown>('1', 1, true, null, undefined, [], {}).filter((v) => (rule.type === 'null' ? v !== null : typeof v !== own || v === null));
  const out: Array<fc.Arbitrary<{ value: unknown; fault: string }>> = [wrongKind.map((value) => ({ value, fault: 'wrong kind' }))];
  switch (rule.type) {
    case 'int':
    case 'long': {
      const beyond = fc.oneof(
        fc.constantFrom(rule.min - 1, rule.max + 1, 2 ** 53, -(2 ** 53), 2 ** 63, LONG_MAX + 1, 1.5, NaN, Infinity).filter((n) => !(Number.isInteger(n) && n >= rule.min && n <= rule.max)),
        fc.integer({ min: 1, max: 1_000_000 }).map((d) => rule.max + d).filter((n) => n > rule.max),
      );
      out.push(beyond.map((value) => ({ value, fault: `${rule.type} out of range` })));
      break;
    }
    case 'float':
      out.push(fc.constantFrom(1e39, -1e39, FLOAT_MAX * 1.0000001, Number.MAX_VALUE).map((value) => ({ value, fault: 'float overflow' })));
      break;
    case 'string':
      out.push(withLoneSurrogate(s).map((value) => ({ value, fault: 'lone surrogate' })));
      if (rule.uuid) out.push(fc.constantFrom('x', '00000000000000000000000000000000', '{00000000-0000-0000-0000-000000000000}', '00000000-0000-0000-0000-00000000000g').map((value) => ({ value, fault: 'not a uuid' })));
      break;
    case 'bytes':
    case 'fixed':
      out.push(fc.constant(new Uint8Array(rule.type === 'fixed' ? rule.size : 1)).map((value) => ({ value, fault: 'a Uint8Array, not a Buffer' })));
      if (rule.type === 'fixed') out.push(fc.constant(Buffer.alloc(rule.size + 1)).map((value) => ({ value, fault: 'fixed size' })));
      if (rule.decimal) {
        const over = 10n ** BigInt(rule.decimal.precision);
        const fits = rule.type === 'bytes' || over < 1n << BigInt(8 * rule.size - 1);
        if (fits) out.push(fc.constantFrom(over, -over).map((n) => ({ value: decimalToBytes(n, rule.type === 'fixed' ? rule.size : undefined), fault: 'decimal precision' })));
      }
      break;
  }
  return out;
}

function miss(node: SchemaNode, s: Settings, depth: number): fc.Arbitrary<NearMiss> {
  const here = (arb: fc.Arbitrary<{ value: unknown; fault: string }>) => arb.map(({ value, fault }) => ({ value, fault, path: '' }));
  const deep = depth >= s.maxDepth;
  switch (node.kind) {
    case 'value':
      return fc.oneof(...ruleMisses(node.rule, s).map(here));
    case 'enum':
      return here(
        fc
          .constantFrom<unknown>('toString', 'constructor', '__proto__', 'hasOwnProperty', '', 'NOT_A_SYMBOL', 0, null, undefined)
          .filter((v) => !(typeof v === 'string' && node.symbols.has(v)))
          .map((value) => ({ value, fault: 'not a symbol' })),
      );
    case 'array': {
      const wrong = here(fc.constantFrom<unknown>({}, 'x', null).map((value) => ({ value, fault: 'not an array' })));
      if (deep) return wrong;
      const item = fc.tuple(fc.array(valid(node.items, s, depth + 1), { maxLength: 3 }), miss(node.items, s, depth + 1), fc.array(valid(node.items, s, depth + 1), { maxLength: 3 }));
      return fc.oneof(wrong, item.map(([before, bad, after]) => at(String(before.length), { ...bad, value: [...before, bad.value, ...after] })));
    }
    case 'map': {
      const wrong = here(fc.constantFrom<unknown>([], 'x', null, Buffer.alloc(1)).map((value) => ({ value, fault: 'not a map' })));
      if (deep) return wrong;
      const badKey = fc.tuple(fc.oneof(withLoneSurrogate(s), fc.constant('__proto__')), valid(node.values, s, depth + 1)).map(([key, v]) => ({
        // Defined, not assigned: assigning "__proto__" would set the prototype.
        value: Object.defineProperty({}, key, { value: v, enumerable: true, writable: true, configurable: true }),
        fault: 'bad map key',
        path: '',
      }));
      // Not the empty key: a path cannot tell "map." (key "") from "map".
      const key = anyText({ ...s, huge: false }).filter((k) => k !== '' && k !== '__proto__' && k.isWellFormed());
      const badValue = fc.tuple(key, miss(node.values, s, depth + 1)).map(([key, bad]) =>
        at(key, { ...bad, value: Object.defineProperty({}, key, { value: bad.value, enumerable: true, writable: true, configurable: true }) }),
      );
      return fc.oneof(wrong, badKey, badValue);
    }
    case 'record':
      return recordMiss(node, s, depth);
    case 'union': {
      const branchMisses = unionBranches(node, deep)
        // In an unwrapped union, a branch's fault must keep the value in that branch (else the value
        // may be valid in another): only branches whose faults include values of their own bucket.
        .filter((b) => b.bucket !== 'null' && (node.wrapped || hasFaultsInItsBucket(b.node, depth + 1 >= s.maxDepth)))
        .map((b) => miss(b.node, s, depth + 1).filter((m) => m.path !== '' || selectsBranch(node, b.bucket, m.value)).map((m) => (node.wrapped ? at(b.name, { ...m, value: { [b.name]: m.value } }) : m)));
      // For a wrapped union, also a key inherited by every object: avsc's isValid threw a TypeError on it (a 500 at the gateway).
      const inherited: unknown[] = node.wrapped ? [{ toString: 1 }, { constructor: null }] : [];
      const none = here(fc.constantFrom<unknown>(undefined, Symbol.iterator, () => 0, ...inherited).map((value) => ({ value, fault: 'no branch' })));
      return branchMisses.length > 0 ? fc.oneof(none, ...branchMisses) : none;
    }
  }
}

/** Whether some near misses of `node` are values of its own avsc bucket (every number is a double, any Buffer is plain bytes). */
function hasFaultsInItsBucket(node: SchemaNode, deep: boolean): boolean {
  if (node.kind !== 'value') return !deep || node.kind === 'enum';
  const r = node.rule;
  return r.type === 'int' || r.type === 'long' || r.type === 'float' || r.type === 'string' || r.type === 'fixed' || (r.type === 'bytes' && r.decimal !== undefined);
}

/** Whether an unwrapped union sends `value` to the branch of `bucket` (else a top-level fault is a union fault, reported at the union's path). */
function selectsBranch(node: UnionNode, bucket: string, value: unknown): boolean {
  if (node.wrapped) return true;
  const valueBucket = value === null ? 'null' : Array.isArray(value) ? 'array' : Buffer.isBuffer(value) ? 'buffer' : typeof value;
  return valueBucket === bucket;
}

function recordMiss(node: RecordNode, s: Settings, depth: number): fc.Arbitrary<NearMiss> {
  const base = validRecord(node, s, depth) as fc.Arbitrary<Record<string, unknown>>;
  const options: Array<fc.Arbitrary<NearMiss>> = [
    fc.constantFrom<unknown>(null, [], 'x', 1).map((value) => ({ value, path: '', fault: 'not a record' })),
    fc
      .tuple(base, fc.constantFrom('extra', 'typo_field', 'Receive_Time'))
      .filter(([, key]) => !node.fields.some((f) => f.name === key))
      .map(([record, key]) => ({ value: { ...record, [key]: 1 }, path: key, fault: 'undeclared field' })),
  ];
  const required = node.fields.filter((f) => f.defaultValue === undefined && !(f.node.kind === 'union' && !f.node.wrapped && f.node.branches.length === 0));
  if (required.length > 0) {
    options.push(
      fc.tuple(base, fc.constantFrom(...required)).map(([record, field]) => {
        const copy = { ...record };
        delete copy[field.name];
        return { value: copy, path: field.name, fault: 'missing field' };
      }),
    );
  }
  if (node.fields.length > 0 && depth < s.maxDepth) {
    options.push(
      fc.tuple(base, fc.nat({ max: node.fields.length - 1 })).chain(([record, i]) => {
        const field = node.fields[i]!;
        return miss(field.node, s, depth + 1)
          // An undefined value in a field with a default is the default, not a fault.
          .filter((m) => !(m.path === '' && m.value === undefined && field.defaultValue !== undefined))
          .map((bad) => at(field.name, { ...bad, value: { ...record, [field.name]: bad.value } }));
      }),
    );
  }
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------

/**
 * What a reader gets back for a valid `value` of `node`: the value itself, with the documented
 * normalisations only: defaults for fields left out, floats rounded to 32 bits, and an integer -0 as 0.
 * Throws for what those cannot explain (an undeclared field, a finite float rounded to Infinity).
 */
export function deliveredValue(node: SchemaNode, value: unknown): unknown {
  switch (node.kind) {
    case 'value':
      if (node.rule.type === 'float') {
        const rounded = Math.fround(value as number);
        if (Number.isFinite(value) && !Number.isFinite(rounded)) throw new Error(`${String(value)} is delivered as ${rounded}`);
        return rounded;
      }
      if ((node.rule.type === 'int' || node.rule.type === 'long') && Object.is(value, -0)) return 0;
      return value;
    case 'enum':
      return value;
    case 'array':
      if (!Array.isArray(value)) throw new Error('not an array');
      return value.map((v) => deliveredValue(node.items, v));
    case 'map':
      if (!isPlainObject(value)) throw new Error('not a map');
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, deliveredValue(node.values, v)]));
    case 'record': {
      if (!isPlainObject(value)) throw new Error('not a record');
      const record = value as Record<string, unknown>;
      const undeclared = Object.keys(record).find((k) => !node.fields.some((f) => f.name === k));
      if (undeclared !== undefined) throw new Error(`field ${undeclared} is not delivered`);
      return Object.fromEntries(node.fields.map((f) => [f.name, deliveredValue(f.node, record[f.name] === undefined ? f.defaultValue : record[f.name])]));
    }
    case 'union': {
      if (value === null) return null;
      if (node.wrapped) {
        const [name, inner] = Object.entries(value as Record<string, unknown>)[0]!;
        return { [name]: deliveredValue(node.branches.find((b) => b.name === name)!.node, inner) };
      }
      const bucket = Array.isArray(value) ? 'array' : Buffer.isBuffer(value) ? 'buffer' : typeof value;
      return deliveredValue(node.branches.find((b) => b.bucket === bucket)!.node, value);
    }
  }
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** A value decoded by avsc as plain data: its records are instances of generated classes, which deepStrictEqual tells apart from object literals. */
export function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(plainValue);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
}
