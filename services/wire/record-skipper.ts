// Proves that a decompressed block body holds exactly N records of a schema, by skipping through them without building values.
//
// This runs on every message the worker accepts, so a schema is compiled once into specialised
// JavaScript (new Function): one function per named record, every other type inlined, varints
// read byte by byte with a fast path for one-byte values. On the track-played record, generated
// code ran 1.9x faster than an equivalent tree of closures with UTF-8 checks on, and 3.6x without
// (25 vs 13 and 67 vs 19 million records/s), and closures would only get slower once a worker
// holds many schemas and their call sites turn megamorphic. No text from the schema ever enters
// the generated source: names used in error messages are passed in an array.
//
// What is validated: lengths and counts non-negative and within the buffer, varints at most 10
// (int: 5) bytes, booleans 0 or 1, enum indexes and union branches in range, that an array or map
// block with a byte size really spans it, and the value rules of services/registry/valid-values.ts,
// which the SDK and the gateway apply before they accept an event: (by default) UTF-8 in strings,
// ints within 32 bits and longs within LONG_MIN..LONG_MAX, logical-type ranges (dates, times, timestamps),
// UUID strings and decimal precision. A varint that is short enough to be in range is not decoded,
// so the common small int or long costs what it did. Floats are not checked: any bits are a float.
import { isUtf8 } from 'node:buffer';
import { decimalFits, INT_MAX, INT_MIN, isProtoKeyBytes, isUuidBytes, LogicalTypeError, LONG_MAX, LONG_MIN, valueRuleOf, type IntegerRule, type TypeAttributes, type ValueRule } from '../registry/valid-values.ts';

/** Skips one record of `buf` starting at `pos` and returns the position after it. */
export type Skipper = (buf: Buffer, pos: number) => number;

export interface SkipperOptions {
  /** Check that every string (and map key) is valid UTF-8, as strict readers like fastavro need. Default: true. */
  validateUtf8?: boolean;
  /**
   * Apply the value rules (UTF-8, integer and logical-type ranges, UUIDs, decimals, map keys, booleans,
   * enum indexes). Default: true. Without them the skipper checks only the structure, which finds where
   * each record ends even when a value in it is refused: the worker uses that to keep a message's good
   * records (services/worker/record-salvage.ts). A bad union branch or length is structural, and still fails.
   */
  values?: boolean;
}

/** Bytes that are not a record of the schema; `offset` is where reading failed. */
export class CorruptRecordError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'CorruptRecordError';
    this.offset = offset;
  }
}

/** A record needs bytes beyond the end of the buffer; `offset` is the buffer's length. */
export class TruncatedDataError extends CorruptRecordError {
  constructor(offset: number) {
    super(`data ends at byte ${offset} in the middle of a record`, offset);
    this.name = 'TruncatedDataError';
  }
}

/** A value the schema does not allow (bad enum index, union branch, boolean, negative length…). */
export class InvalidDataError extends CorruptRecordError {
  constructor(problem: string, offset: number) {
    super(`${problem} at byte ${offset}`, offset);
    this.name = 'InvalidDataError';
  }
}

/** The schema itself cannot be compiled (unknown type, missing field type, bad fixed size…). */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

export type ProveResult = { ok: true } | { ok: false; reason: string };

/**
 * Whether `body` is exactly `expected` records: ok only if they all parse and no byte is left over.
 * Records are numbered from 1 in reasons ("record 2 of 3 is truncated at byte 40").
 */
export function proveRecordCount(skipper: Skipper, body: Buffer, expected: number): ProveResult {
  if (!Number.isSafeInteger(expected) || expected < 0) return { ok: false, reason: `${expected} is not a record count` };
  let pos = 0;
  let index = 0;
  try {
    for (; index < expected; index++) {
      const next = skipper(body, pos);
      // Only a schema whose every value is zero bytes (nulls, empty records) consumes nothing, and
      // then it always does: the remaining records are empty too, however many are claimed.
      if (next === pos) break;
      pos = next;
    }
  } catch (err) {
    const where = `record ${index + 1} of ${expected}`;
    if (err instanceof TruncatedDataError) return { ok: false, reason: `${where} is truncated at byte ${err.offset}` };
    if (err instanceof CorruptRecordError) return { ok: false, reason: `${where}: ${err.message}` };
    throw err;
  }
  if (pos !== body.length) {
    return { ok: false, reason: `body holds more than ${expected} records (${body.length - pos} bytes left over)` };
  }
  return { ok: true };
}

/** Compiles `schema` (an Avro schema as JSON text or parsed JSON) into a `Skipper`. Compile once per schema and keep it. */
export function compileSkipper(schema: object | string, options: SkipperOptions = {}): Skipper {
  const parsed = typeof schema === 'string' ? parseSchemaText(schema) : schema;
  const values = options.values ?? true;
  const compiler = new Compiler(values && (options.validateUtf8 ?? true), values);
  const body = compiler.emit(parsed as SchemaNode, '', '  ');
  const source = `'use strict';
${PRELUDE}
${compiler.functions.join('\n')}
return function skipRecord(buf, pos) {
  const len = buf.length;
  let b = 0, n = 0, s = 0;
${body}
  if (pos > len) throw new Truncated(len);
  return pos;
};`;
  const factory = new Function('TruncatedDataError', 'InvalidDataError', 'labels', 'limits', 'isUtf8', 'rules', source) as (
    truncated: typeof TruncatedDataError,
    invalid: typeof InvalidDataError,
    labels: readonly string[],
    limits: readonly number[],
    isUtf8: (input: Uint8Array) => boolean,
    rules: typeof WIRE_RULES,
  ) => Skipper;
  const skip = factory(TruncatedDataError, InvalidDataError, compiler.labels, compiler.limits, isUtf8, WIRE_RULES);
  return compiler.recursive ? guardRecursion(skip) : skip;
}

/** A recursive schema lets crafted data nest as deep as its bytes allow; report that as bad data, not a crash. */
function guardRecursion(skip: Skipper): Skipper {
  return (buf, pos) => {
    try {
      return skip(buf, pos);
    } catch (err) {
      if (err instanceof RangeError) throw new InvalidDataError('records nest too deeply', pos);
      throw err;
    }
  };
}

function parseSchemaText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // A bare name such as `long` or `hourglass.Platform` is a schema too, just not JSON.
    return text;
  }
}

/** The byte-level value rules the generated code calls; `limits` holds their numbers, starting with the long range. */
const WIRE_RULES = { decimalFits, isProtoKeyBytes, isUuidBytes };
const LONG_LIMITS = [LONG_MIN, LONG_MAX];
const PLAIN_RANGE = { int: [INT_MIN, INT_MAX], long: [LONG_MIN, LONG_MAX] } as const;

// ---------------------------------------------------------------------------------------------
// Generated code. Every function keeps `pos` in a local and shares the helpers below. Single-byte
// varints are handled inline; anything else (longer varints, the end of the buffer, where a byte
// read gives `undefined`) goes to `readLong`, which returns the value and leaves the position in
// `P`. Reads of fixed-size values and varints skipped without decoding are not bounds-checked one
// by one: reading past the end gives `undefined`, which stops every loop, and the record's end is
// checked once. Every length and count is checked as soon as it is read, so no loop can be driven
// far past the end.
const PRELUDE = `const Truncated = TruncatedDataError, Invalid = InvalidDataError;
let P = 0;
function readLong(buf, p) {
  const start = p, len = buf.length;
  if (p >= len) throw new Truncated(len);
  let b = buf[p++];
  let m = (b & 0x7f) >>> 1, scale = 64;
  const negative = b & 1;
  while (b >= 0x80) {
    if (p - start >= 10) throw new Invalid('varint longer than 10 bytes', start);
    if (p >= len) throw new Truncated(len);
    b = buf[p++];
    m += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  P = p;
  return negative ? -m - 1 : m;
}
function negativeLength(n, at) { return new Invalid('negative length ' + n, at); }
// Reads the varint at s in full (it was skipped) and refuses a value outside limits[k], limits[k + 1].
function checkRange(buf, s, k, what) {
  const n = readLong(buf, s);
  if (!(n >= limits[k] && n <= limits[k + 1])) throw new Invalid(what + ' ' + n + ' outside ' + limits[k] + '..' + limits[k + 1], s);
}
function skipString(buf, pos, len, validate) {
  let s = pos, n = 0;
  const b = buf[pos++];
  if (b < 0x80) n = (b >>> 1) ^ -(b & 1); else { n = readLong(buf, s); pos = P; }
  if (n < 0) throw negativeLength(n, s);
  s = pos;
  pos += n;
  if (pos > len) throw new Truncated(len);
  if (validate) checkUtf8(buf, s, pos);
  return pos;
}
// skipString, also leaving in S where the value's bytes begin (its end is the position returned), for
// the rules that look at them. Apart, so the common string does not pay for the write.
let S = 0;
function skipStringAt(buf, pos, len, validate) {
  const end = skipString(buf, pos, len, validate);
  const b = buf[pos];
  S = b < 0x80 ? pos + 1 : (readLong(buf, pos), P);
  return end;
}
function skipUuid(buf, pos, len) {
  pos = skipStringAt(buf, pos, len, false);
  if (!rules.isUuidBytes(buf, S, pos)) throw new Invalid('string is not a UUID (8-4-4-4-12 hexadecimal digits)', S);
  return pos;
}
function skipMapKey(buf, pos, len, validate) {
  pos = skipStringAt(buf, pos, len, validate);
  if (rules.isProtoKeyBytes(buf, S, pos)) throw new Invalid('map key "__proto__" (JavaScript readers cannot keep it)', S);
  return pos;
}
function checkDecimal(buf, from, to, k) {
  if (!rules.decimalFits(buf, from, to, limits[k])) throw new Invalid('decimal has more than ' + limits[k] + ' digits', from);
}
function checkUtf8(buf, from, to) {
  // Most strings in events are ASCII ids; only a string with a high byte pays for the full check.
  let any = 0, i = from;
  for (; i + 4 <= to; i += 4) any |= buf[i] | buf[i + 1] | buf[i + 2] | buf[i + 3];
  for (; i < to; i++) any |= buf[i];
  if (any >= 0x80 && !isUtf8(buf.subarray(from, to))) throw new Invalid('string is not valid UTF-8', from);
}`;

type SchemaNode = string | SchemaNode[] | { type?: unknown; [key: string]: unknown };

interface NamedType {
  kind: 'record' | 'enum' | 'fixed';
  /** Generated function name (records only). */
  fn: string;
  /** Index of the full name in `labels`, for error messages. */
  label: number;
  /** Whether the record's function is complete; a reference before that is a recursion. */
  done: boolean;
  schema: { [key: string]: unknown };
  namespace: string;
  minBytes: number;
  /** For a decimal fixed: the index of its precision in `limits`. */
  decimalLimit?: number;
}

/** A map key: a string, with the map-key rule. Not a valid Avro name, so no schema can refer to it. */
const MAP_KEY = '<map key>';

const PRIMITIVE_MIN_BYTES: Record<string, number> = {
  null: 0, boolean: 1, int: 1, long: 1, float: 4, double: 8, bytes: 1, string: 1,
};

class Compiler {
  readonly functions: string[] = [];
  readonly labels: string[] = [];
  /** Numbers the generated code compares with (ranges, precisions), so none is written into its source. */
  readonly limits: number[] = [...LONG_LIMITS];
  recursive = false;
  readonly #named = new Map<string, NamedType>();
  readonly #validateUtf8: boolean;
  readonly #values: boolean;
  #uid = 0;

  constructor(validateUtf8: boolean, values: boolean) {
    this.#validateUtf8 = validateUtf8;
    this.#values = values;
  }

  /** Statements that skip one value of `schema` and advance `pos`; `ns` is the enclosing namespace. */
  emit(schema: SchemaNode, ns: string, indent: string): string {
    if (typeof schema === 'string') return this.#emitName(schema, ns, indent);
    if (Array.isArray(schema)) return this.#emitUnion(schema, ns, indent);
    if (typeof schema !== 'object' || schema === null) throw new SchemaError(`not a schema: ${JSON.stringify(schema)}`);
    const type = schema.type;
    if (typeof type === 'object' && type !== null) return this.emit(type as SchemaNode, ns, indent);
    switch (type) {
      case 'record':
      case 'error':
        return this.#emitRecordReference(this.#defineNamed('record', schema, ns), indent);
      case 'enum':
        return this.#emitEnum(this.#defineNamed('enum', schema, ns), indent);
      case 'fixed':
        return this.#emitFixed(this.#defineNamed('fixed', schema, ns), indent);
      case 'array':
        return this.#emitBlocks(indent, [[schema.items, ns]], 'array');
      case 'map':
        return this.#emitBlocks(indent, [[MAP_KEY, ns], [schema.values, ns]], 'map');
      default:
        // A primitive, possibly with a logical type (whose values have a rule of their own), or a
        // reference to a named type.
        if (typeof type === 'string' && schema.logicalType !== undefined && type in PRIMITIVE_MIN_BYTES && this.#values) {
          return this.#emitRule(ruleOf(schema as unknown as TypeAttributes), indent);
        }
        if (typeof type === 'string') return this.#emitName(type, ns, indent);
        throw new SchemaError(`unknown type ${JSON.stringify(type)}`);
    }
  }

  /** Smallest encoding of `schema`, in bytes. Zero means every value is zero bytes. */
  minBytes(schema: SchemaNode, ns: string): number {
    if (typeof schema === 'string') {
      if (schema in PRIMITIVE_MIN_BYTES) return PRIMITIVE_MIN_BYTES[schema] ?? 0;
      if (schema === MAP_KEY) return 1;
      return this.#lookup(schema, ns).minBytes;
    }
    if (Array.isArray(schema)) return 1;
    const type = schema.type;
    if (typeof type === 'object' && type !== null) return this.minBytes(type as SchemaNode, ns);
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      return this.#lookup(fullName(schema, ns), ns).minBytes;
    }
    if (type === 'array' || type === 'map') return 1;
    return this.minBytes(type as string, ns);
  }

  #emitName(name: string, ns: string, indent: string): string {
    if (!this.#values) {
      const structural = this.#emitStructural(name, indent);
      if (structural !== undefined) return structural;
    }
    switch (name) {
      case MAP_KEY:
        return `${indent}pos = skipMapKey(buf, pos, len, ${this.#validateUtf8});\n`;
      case 'null':
        return '';
      case 'boolean':
        return `${indent}if (buf[pos++] > 1) throw new Invalid('boolean byte ' + buf[pos - 1] + ' is not 0 or 1', pos - 1);\n`;
      case 'int':
        // Five bytes hold 35 bits: the fifth may carry only bits 28..31 of a 32-bit value.
        return `${indent}if (buf[pos++] > 0x7f) { s = pos - 1; while (buf[pos++] > 0x7f); if (pos - s > 5) throw new Invalid('int varint longer than 5 bytes', s); if (pos - s === 5 && buf[pos - 1] > 0x0f) throw new Invalid('int ' + readLong(buf, s) + ' outside -2147483648..2147483647', s); }\n`;
      case 'long':
        // A varint below 2^53 (at most 7 bytes, or 8 whose last is below 0x10) is a long within
        // LONG_MIN..LONG_MAX, so only a longer one is decoded: today's timestamps in microseconds
        // (8 bytes, last 0x0b) are not.
        return `${indent}if (buf[pos++] > 0x7f) { s = pos - 1; while (buf[pos++] > 0x7f); if (pos - s > 10) throw new Invalid('long varint longer than 10 bytes', s); if (pos - s > 7 && (pos - s > 8 || buf[pos - 1] > 0x0f)) checkRange(buf, s, 0, 'long'); }\n`;
      case 'float':
        return `${indent}pos += 4;\n`;
      case 'double':
        return `${indent}pos += 8;\n`;
      case 'bytes':
        return `${indent}pos = skipString(buf, pos, len, false);\n`;
      case 'string':
        return `${indent}pos = skipString(buf, pos, len, ${this.#validateUtf8});\n`;
    }
    const named = this.#lookup(name, ns);
    if (named.kind === 'record') return this.#emitRecordReference(named, indent);
    if (named.kind === 'enum') return this.#emitEnum(named, indent);
    return this.#emitFixed(named, indent);
  }

  /** Without value rules: where a value ends, whatever it holds (a varint of up to 10 bytes, any string, boolean byte or enum index). */
  #emitStructural(name: string, indent: string): string | undefined {
    switch (name) {
      case MAP_KEY:
        return `${indent}pos = skipString(buf, pos, len, false);\n`;
      case 'boolean':
        return `${indent}pos++;\n`;
      case 'int':
      case 'long':
        return `${indent}if (buf[pos++] > 0x7f) { s = pos - 1; while (buf[pos++] > 0x7f); if (pos - s > 10) throw new Invalid('varint longer than 10 bytes', s); }\n`;
      default:
        return undefined;
    }
  }

  /** A primitive with a logical type: the integer range, UUID text or decimal precision its values must meet. */
  #emitRule(rule: ValueRule, indent: string): string {
    switch (rule.type) {
      case 'int':
      case 'long':
        // A logical type whose range is its type's (timestamp-micros: every delivered record's
        // receive_time) costs no more than the plain type.
        if (rule.min === PLAIN_RANGE[rule.type][0] && rule.max === PLAIN_RANGE[rule.type][1]) return this.#emitName(rule.type, '', indent);
        return this.#emitInteger(rule, indent);
      case 'string':
        return rule.uuid ? `${indent}pos = skipUuid(buf, pos, len);\n` : this.#emitName('string', '', indent);
      case 'bytes':
        if (rule.decimal === undefined) return this.#emitName('bytes', '', indent);
        return `${indent}pos = skipStringAt(buf, pos, len, false); checkDecimal(buf, S, pos, ${this.limits.push(rule.decimal.precision) - 1});\n`;
      default:
        return this.#emitName(rule.type, '', indent);
    }
  }

  /** An int or long whose value is decoded and compared with its rule's range. */
  #emitInteger(rule: IntegerRule, indent: string): string {
    const k = this.limits.push(rule.min, rule.max) - 2;
    const maxBytes = rule.type === 'int' ? 5 : 10;
    const what = this.labels.push(rule.logicalType ?? rule.type) - 1;
    return `${indent}s = pos; b = buf[pos];
${indent}if (b < 0x80) { n = (b >>> 1) ^ -(b & 1); pos++; } else { n = readLong(buf, pos); pos = P; if (pos - s > ${maxBytes}) throw new Invalid('${rule.type} varint longer than ${maxBytes} bytes', s); }
${indent}if (!(n >= limits[${k}] && n <= limits[${k + 1}])) throw new Invalid(labels[${what}] + ' ' + n + ' outside ' + limits[${k}] + '..' + limits[${k + 1}], s);\n`;
  }

  #defineNamed(kind: NamedType['kind'], schema: { [key: string]: unknown }, ns: string): NamedType {
    const name = fullName(schema, ns);
    if (this.#named.has(name)) throw new SchemaError(`${name} is defined twice`);
    const namespace = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
    const label = this.labels.push(name) - 1;
    // While a record is being compiled, a reference to it is a recursion, which must pass through a
    // union, array or map of its own fields (else the type is infinite): so it takes at least 1 byte.
    const named: NamedType = { kind, fn: `r${label}`, label, done: false, schema, namespace, minBytes: 1 };
    this.#named.set(name, named);
    if (kind === 'enum') {
      const symbols = schema.symbols;
      if (!Array.isArray(symbols) || symbols.length === 0) throw new SchemaError(`enum ${name} has no symbols`);
      named.minBytes = 1;
      named.done = true;
    } else if (kind === 'fixed') {
      const size = schema.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new SchemaError(`fixed ${name} has a bad size`);
      const rule = ruleOf(schema as unknown as TypeAttributes);
      if (this.#values && rule.type === 'fixed' && rule.decimal !== undefined) named.decimalLimit = this.limits.push(rule.decimal.precision) - 1;
      named.minBytes = size;
      named.done = true;
    } else {
      this.#compileRecord(named, name);
    }
    return named;
  }

  #compileRecord(named: NamedType, name: string): void {
    const fields = named.schema.fields;
    if (!Array.isArray(fields)) throw new SchemaError(`record ${name} has no fields array`);
    let body = '';
    let minBytes = 0;
    for (const field of fields as { name?: unknown; type?: unknown }[]) {
      if (field === null || typeof field !== 'object' || field.type === undefined) {
        throw new SchemaError(`record ${name} has a field without a type`);
      }
      body += this.emit(field.type as SchemaNode, named.namespace, '  ');
      minBytes += this.minBytes(field.type as SchemaNode, named.namespace);
    }
    named.minBytes = minBytes;
    named.done = true;
    this.functions.push(`function ${named.fn}(buf, pos) {
  const len = buf.length;
  let b = 0, n = 0, s = 0;
${body}  return pos;
}`);
  }

  #emitRecordReference(named: NamedType, indent: string): string {
    if (!named.done) this.recursive = true;
    return `${indent}pos = ${named.fn}(buf, pos);\n`;
  }

  #emitEnum(named: NamedType, indent: string): string {
    if (!this.#values) return `${indent}readLong(buf, pos); pos = P;\n`;
    const count = (named.schema.symbols as unknown[]).length;
    // Valid one-byte encodings are the even bytes below 2 * count; anything else is decoded in full.
    return `${indent}b = buf[pos];
${indent}if (b < ${Math.min(2 * count, 0x80)} && (b & 1) === 0) pos++;
${indent}else { s = pos; n = readLong(buf, pos); pos = P; if (!(n >= 0 && n < ${count})) throw new Invalid('enum index ' + n + ' out of range for ' + labels[${named.label}], s); }\n`;
  }

  #emitFixed(named: NamedType, indent: string): string {
    if (named.decimalLimit !== undefined) {
      return `${indent}if (pos + ${named.minBytes} > len) throw new Truncated(len);
${indent}checkDecimal(buf, pos, pos + ${named.minBytes}, ${named.decimalLimit});
${indent}pos += ${named.minBytes};\n`;
    }
    return named.minBytes === 0 ? '' : `${indent}pos += ${named.minBytes};\n`;
  }

  #emitUnion(branches: SchemaNode[], ns: string, indent: string): string {
    if (branches.length === 0) throw new SchemaError('a union needs at least one branch');
    let cases = '';
    branches.forEach((branch, i) => {
      const code = this.emit(branch, ns, `${indent}    `);
      if (code !== '') cases += `${indent}  case ${i}:\n${code}${indent}    break;\n`;
      else cases += `${indent}  case ${i}: break;\n`;
    });
    return `${indent}s = pos; b = buf[pos++];
${indent}if (b < 0x80) n = (b >>> 1) ^ -(b & 1); else { n = readLong(buf, s); pos = P; }
${indent}switch (n) {
${cases}${indent}  default: throw new Invalid('union branch ' + n + ' out of range (the union has ${branches.length})', s);
${indent}}\n`;
  }

  /** Arrays and maps: blocks of items until a zero count; a negative count is followed by the block's byte size. */
  #emitBlocks(indent: string, parts: [unknown, string][], what: string): string {
    const id = ++this.#uid;
    const c = `c${id}`;
    const size = `z${id}`;
    const start = `o${id}`;
    let item = '';
    let itemMin = 0;
    for (const [schema, ns] of parts) {
      if (schema === undefined) throw new SchemaError(`${what} without ${what === 'array' ? 'items' : 'values'}`);
      item += this.emit(schema as SchemaNode, ns, `${indent}      `);
      itemMin += this.minBytes(schema as SchemaNode, ns);
    }
    // Every item takes at least itemMin bytes, so a count the remaining bytes cannot hold is
    // refused at once. Items of zero bytes (nulls) need no loop at all.
    const loop = itemMin === 0 ? '' : `${indent}    if (${c} * ${itemMin} > len - pos) throw new Truncated(len);
${indent}    for (; ${c} > 0; ${c}--) {
${item}${indent}    }\n`;
    return `${indent}for (;;) {
${indent}  let ${c} = 0, ${size} = -1, ${start} = 0;
${indent}  s = pos; b = buf[pos++];
${indent}  if (b < 0x80) ${c} = (b >>> 1) ^ -(b & 1); else { ${c} = readLong(buf, s); pos = P; }
${indent}  if (${c} === 0) break;
${indent}  if (${c} < 0) {
${indent}    ${c} = -${c}; s = pos; ${size} = readLong(buf, pos); pos = P;
${indent}    if (${size} < 0 || ${size} > len - pos) throw new Invalid('${what} block size ' + ${size} + ' is negative or past the end', s);
${indent}    ${start} = pos;
${indent}  }
${loop}${indent}  if (${size} >= 0 && pos - ${start} !== ${size}) throw new Invalid('${what} block declares ' + ${size} + ' bytes but its items take ' + (pos - ${start}), ${start});
${indent}}\n`;
  }

  #lookup(name: string, ns: string): NamedType {
    const found = (!name.includes('.') && ns !== '' ? this.#named.get(`${ns}.${name}`) : undefined) ?? this.#named.get(name);
    if (found === undefined) throw new SchemaError(`unknown type ${JSON.stringify(name)}`);
    return found;
  }
}

/** The value rule of a primitive or fixed schema with its logical type; an annotation the rules refuse cannot be compiled. */
function ruleOf(schema: TypeAttributes): ValueRule {
  try {
    return valueRuleOf(schema);
  } catch (err) {
    if (err instanceof LogicalTypeError) throw new SchemaError(err.message);
    throw err;
  }
}

/** A named type's full name: its own dotted name, else its namespace attribute, else the enclosing namespace. */
function fullName(schema: { [key: string]: unknown }, ns: string): string {
  const name = schema.name;
  if (typeof name !== 'string' || name === '') throw new SchemaError(`a ${String(schema.type)} needs a name`);
  if (name.includes('.')) return name;
  const namespace = typeof schema.namespace === 'string' ? schema.namespace : ns;
  return namespace === '' ? name : `${namespace}.${name}`;
}
