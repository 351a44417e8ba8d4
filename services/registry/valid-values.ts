// What a valid value of each Avro type is, for hourglass: the one definition that the SDK's publish
// path, the gateway's JSON mapping and the worker's record proof all apply.
//
// "Valid" means: the pipeline delivers it unchanged, and standard readers (fastavro, BigQuery, Java)
// read it back. So beyond Avro's own rules:
// - strings are Unicode text: no lone surrogate in a JavaScript string (UTF-8 cannot encode one;
//   encoders either write bytes that are not UTF-8 or silently write U+FFFD), and only valid UTF-8
//   in encoded bytes;
// - ints are 32-bit; longs are integers within LONG_MIN..LONG_MAX, -2^52..2^53-2: avsc, which
//   encodes and decodes every hourglass record, refuses more than 2^53-2, and writes a negative long
//   below -2^52 as a different number (its zig-zag form, -2n-1, is past 2^53 and rounds to even, so
//   -2^52-1 is delivered as +2^52: a property test found it);
// - map keys are Unicode text too, and not "__proto__" (a JavaScript reader, avsc included, sets the
//   prototype of the map it builds instead of adding the key: the checker would lose it when it
//   decodes a record to convert or filter it);
// - floats do not overflow 32 bits (a double beyond ±FLOAT_MAX would be written as ±Infinity);
// - logical types hold values their readers accept: dates and timestamps within years 1..9999
//   (Python's datetime and BigQuery; fastavro cannot read a file holding one outside), times within
//   one day, UUID strings in the 8-4-4-4-12 form, decimals within their precision.
// Logical types hourglass cannot honour, and invalid annotations, are refused when a schema is loaded
// (logicalTypeRule), so a team learns it before any event is sent. Pure: no I/O, no avsc.

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;
/** The largest long hourglass carries: avsc's limit, 2^53 - 2. */
export const LONG_MAX = 9007199254740990;
/** The smallest long avsc writes exactly: -2^52. */
export const LONG_MIN = -4503599627370496;
/** The largest finite 32-bit float. */
export const FLOAT_MAX = 3.4028234663852886e38;

/** 0001-01-01 and 9999-12-31 in days since 1970-01-01. */
const FIRST_DAY = -719162;
const LAST_DAY = 2932896;
const MS_PER_DAY = 86_400_000;

/** An integer type's valid values: a range, and what the numbers mean (for error messages). */
export interface IntegerRule {
  readonly type: 'int' | 'long';
  readonly min: number;
  readonly max: number;
  readonly logicalType: string | undefined;
  /** What a value is, e.g. "a date (days since 1970-01-01)". */
  readonly what: string;
}

export interface DecimalRule {
  readonly precision: number;
  readonly scale: number;
}

/** Every value rule: one per Avro primitive, fixed and logical type. Enums, arrays, maps, records and unions have no rule beyond their structure. */
export type ValueRule =
  | { readonly type: 'null' | 'boolean' | 'float' | 'double' }
  | IntegerRule
  | { readonly type: 'string'; readonly uuid: boolean }
  | { readonly type: 'bytes'; readonly decimal: DecimalRule | undefined }
  | { readonly type: 'fixed'; readonly size: number; readonly decimal: DecimalRule | undefined; readonly uuid: boolean };

/** A logical type hourglass refuses, or an annotation that does not fit its type. */
export class LogicalTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogicalTypeError';
  }
}

interface IntegerLogical {
  readonly on: 'int' | 'long';
  readonly min: number;
  readonly max: number;
  readonly what: string;
}

const INTEGER_LOGICAL_TYPES: Readonly<Record<string, IntegerLogical>> = {
  date: { on: 'int', min: FIRST_DAY, max: LAST_DAY, what: 'a date (days since 1970-01-01, years 1..9999)' },
  'time-millis': { on: 'int', min: 0, max: MS_PER_DAY - 1, what: 'a time-millis (milliseconds after midnight, within one day)' },
  'time-micros': { on: 'long', min: 0, max: MS_PER_DAY * 1000 - 1, what: 'a time-micros (microseconds after midnight, within one day)' },
  'timestamp-millis': { on: 'long', min: FIRST_DAY * MS_PER_DAY, max: (LAST_DAY + 1) * MS_PER_DAY - 1, what: 'a timestamp-millis (milliseconds since 1970-01-01 UTC, years 1..9999)' },
  'local-timestamp-millis': { on: 'long', min: FIRST_DAY * MS_PER_DAY, max: (LAST_DAY + 1) * MS_PER_DAY - 1, what: 'a local-timestamp-millis (milliseconds since 1970-01-01, years 1..9999)' },
  // Years 1..9999 in microseconds exceed the long range, which is the bound (1827-06-13..2255-06-05).
  'timestamp-micros': { on: 'long', min: LONG_MIN, max: LONG_MAX, what: 'a timestamp-micros (microseconds since 1970-01-01 UTC)' },
  'local-timestamp-micros': { on: 'long', min: LONG_MIN, max: LONG_MAX, what: 'a local-timestamp-micros (microseconds since 1970-01-01)' },
};

/** Logical types in the Avro specification that hourglass refuses, and why. */
const REFUSED_LOGICAL_TYPES: Readonly<Record<string, string>> = {
  'timestamp-nanos': `needs 64-bit longs; hourglass longs hold ${LONG_MIN}..${LONG_MAX} (about ±100 days of nanoseconds): use timestamp-micros`,
  'local-timestamp-nanos': `needs 64-bit longs; hourglass longs hold ${LONG_MIN}..${LONG_MAX} (about ±100 days of nanoseconds): use local-timestamp-micros`,
  'big-decimal': 'is not read by the standard readers hourglass promises (fastavro, BigQuery): use decimal with a precision and scale',
};

/** Every logical type a schema may use. */
const SUPPORTED_LOGICAL_TYPES: readonly string[] = [...Object.keys(INTEGER_LOGICAL_TYPES), 'uuid', 'decimal', 'duration'];

/** The attributes of a schema node that decide its rule. */
export interface TypeAttributes {
  readonly type: string;
  readonly logicalType?: unknown;
  readonly precision?: unknown;
  readonly scale?: unknown;
  readonly size?: unknown;
}

const PLAIN_RULES = {
  null: { type: 'null' },
  boolean: { type: 'boolean' },
  float: { type: 'float' },
  double: { type: 'double' },
  int: { type: 'int', min: INT_MIN, max: INT_MAX, logicalType: undefined, what: 'an int (32-bit integer)' },
  long: { type: 'long', min: LONG_MIN, max: LONG_MAX, logicalType: undefined, what: `a long (integer within ${LONG_MIN}..${LONG_MAX})` },
  string: { type: 'string', uuid: false },
  bytes: { type: 'bytes', decimal: undefined },
} as const satisfies Record<string, ValueRule>;

/**
 * The rule of a primitive or fixed type (with its logical type, if any). Throws LogicalTypeError for
 * a logical type hourglass does not support or an annotation that does not fit the type.
 */
export function valueRuleOf(node: TypeAttributes): ValueRule {
  const { type, logicalType } = node;
  if (type === 'fixed') return fixedRule(node);
  const plain = PLAIN_RULES[type as keyof typeof PLAIN_RULES];
  if (plain === undefined) throw new LogicalTypeError(`"${type}" is not a primitive or fixed type`);
  if (logicalType === undefined) return plain;
  const name = logicalName(logicalType);
  const integer = INTEGER_LOGICAL_TYPES[name];
  if (integer !== undefined) {
    if (type !== integer.on) throw new LogicalTypeError(`logical type "${name}" annotates ${aType(integer.on)}, not ${aType(type)}`);
    return { type: integer.on, min: integer.min, max: integer.max, logicalType: name, what: integer.what };
  }
  if (name === 'uuid') {
    if (type !== 'string') throw new LogicalTypeError(`logical type "uuid" annotates a string or a fixed of size 16, not ${aType(type)}`);
    return { type: 'string', uuid: true };
  }
  if (name === 'decimal') {
    if (type !== 'bytes') throw new LogicalTypeError(`logical type "decimal" annotates bytes or a fixed, not ${aType(type)}`);
    return { type: 'bytes', decimal: decimalRule(node, undefined) };
  }
  return refuseLogical(name, type);
}

function fixedRule(node: TypeAttributes): ValueRule {
  const size = node.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new LogicalTypeError(`a fixed needs a size that is a non-negative integer, got ${JSON.stringify(size)}`);
  if (node.logicalType === undefined) return { type: 'fixed', size, decimal: undefined, uuid: false };
  const name = logicalName(node.logicalType);
  if (name === 'decimal') return { type: 'fixed', size, decimal: decimalRule(node, size), uuid: false };
  if (name === 'uuid' || name === 'duration') {
    const wanted = name === 'uuid' ? 16 : 12;
    if (size !== wanted) throw new LogicalTypeError(`logical type "${name}" annotates a fixed of size ${wanted}, not ${size}`);
    return { type: 'fixed', size, decimal: undefined, uuid: name === 'uuid' };
  }
  return refuseLogical(name, 'fixed');
}

function logicalName(logicalType: unknown): string {
  if (typeof logicalType !== 'string') throw new LogicalTypeError(`"logicalType" must be a string, got ${JSON.stringify(logicalType)}`);
  return logicalType;
}

function refuseLogical(name: string, type: string): never {
  const why = REFUSED_LOGICAL_TYPES[name];
  if (why !== undefined) throw new LogicalTypeError(`logical type "${name}" ${why}`);
  if (INTEGER_LOGICAL_TYPES[name] !== undefined || name === 'uuid' || name === 'decimal' || name === 'duration') {
    throw new LogicalTypeError(`logical type "${name}" does not annotate ${aType(type)}`);
  }
  throw new LogicalTypeError(`unknown logical type "${name}" (hourglass supports ${SUPPORTED_LOGICAL_TYPES.join(', ')})`);
}

function aType(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function decimalRule(node: TypeAttributes, fixedSize: number | undefined): DecimalRule {
  const { precision, scale = 0 } = node;
  if (typeof precision !== 'number' || !Number.isSafeInteger(precision) || precision < 1) {
    throw new LogicalTypeError(`a decimal needs a "precision" that is a positive integer, got ${JSON.stringify(precision)}`);
  }
  if (typeof scale !== 'number' || !Number.isSafeInteger(scale) || scale < 0 || scale > precision) {
    throw new LogicalTypeError(`a decimal's "scale" must be an integer from 0 to its precision (${precision}), got ${JSON.stringify(scale)}`);
  }
  if (fixedSize !== undefined) {
    const most = maxDecimalDigits(fixedSize);
    if (precision > most) throw new LogicalTypeError(`a decimal in a fixed of ${fixedSize} bytes holds at most ${most} digits, not a precision of ${precision}`);
  }
  return { precision, scale };
}

/** The most decimal digits a two's-complement integer of `bytes` bytes always holds. */
function maxDecimalDigits(bytes: number): number {
  if (bytes === 0) return 0;
  return (2n ** BigInt(8 * bytes - 1) - 1n).toString().length - 1;
}

// ---------------------------------------------------------------------------------------------
// Checks of JavaScript values (the SDK's representation, which the gateway's JSON mapping builds).
// Each returns undefined for a valid value, else why it is not one.

/** For a number: whether it is an integer within the rule's range. */
export function integerProblem(rule: IntegerRule, value: number): string | undefined {
  if (!Number.isInteger(value)) return 'not an integer';
  if (value < rule.min || value > rule.max) return `outside ${rule.min}..${rule.max}`;
  return undefined;
}

/** For a number in a float field: whether 32 bits hold it (NaN and ±Infinity are floats; 1e39 is not). */
export function floatProblem(value: number): string | undefined {
  if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) return `beyond the largest float (±${FLOAT_MAX})`;
  return undefined;
}

/** For a string: whether UTF-8 can encode it (no lone surrogate), and for a uuid whether it is one. */
export function stringProblem(value: string, uuid: boolean): string | undefined {
  if (!value.isWellFormed()) return loneSurrogateProblem(value);
  if (uuid && !isUuidText(value)) return 'not a UUID in the 8-4-4-4-12 hexadecimal form';
  return undefined;
}

/** For a map key: the string rule, and not the one key a JavaScript object cannot hold as data. */
export function mapKeyProblem(key: string): string | undefined {
  if (key === PROTO_KEY) return 'JavaScript readers (the checker among them) cannot keep a map key named "__proto__"';
  return stringProblem(key, false);
}

const PROTO_KEY = '__proto__';

/** Why a string is not well formed: where its first lone surrogate is. */
function loneSurrogateProblem(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    } else if (unit < 0xdc00 || unit > 0xdfff) continue;
    return `it holds a lone surrogate (U+${unit.toString(16).toUpperCase()} at index ${i}), which UTF-8 cannot encode`;
  }
  return 'it is not well-formed Unicode';
}

/** For a Buffer in a bytes or fixed field: its size, and for a decimal whether its unscaled value fits the precision. */
export function bytesProblem(rule: Extract<ValueRule, { type: 'bytes' | 'fixed' }>, value: Buffer): string | undefined {
  if (rule.type === 'fixed' && value.length !== rule.size) return `${value.length} bytes, not ${rule.size}`;
  if (rule.decimal !== undefined && !decimalFits(value, 0, value.length, rule.decimal.precision)) {
    return `the unscaled value has more than ${rule.decimal.precision} digits`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Checks of encoded bytes (the worker's record proof). Same rules, read from the wire.

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Whether `text` is a UUID in the 8-4-4-4-12 hexadecimal form (either case). */
export function isUuidText(text: string): boolean {
  return UUID_TEXT.test(text);
}

/** Whether bytes [from, to) are the map key "__proto__". */
export function isProtoKeyBytes(buf: Buffer, from: number, to: number): boolean {
  return to - from === PROTO_KEY.length && buf.toString('latin1', from, to) === PROTO_KEY;
}

/** Whether bytes [from, to) are a UUID string (ASCII, so UTF-8 too). */
export function isUuidBytes(buf: Buffer, from: number, to: number): boolean {
  return to - from === 36 && isUuidText(buf.toString('latin1', from, to));
}

/** Whether the two's-complement big-endian integer in bytes [from, to) has at most `precision` decimal digits. */
export function decimalFits(buf: Buffer, from: number, to: number, precision: number): boolean {
  const length = to - from;
  if (length === 0) return true;
  if (length <= 6) {
    const unscaled = buf.readIntBE(from, length);
    return Math.abs(unscaled) < 10 ** precision;
  }
  let unscaled = BigInt.asIntN(length * 8, BigInt(`0x${buf.toString('hex', from, to)}`));
  if (unscaled < 0n) unscaled = -unscaled;
  return unscaled < 10n ** BigInt(precision);
}

/** A decimal's unscaled value as two's-complement big-endian bytes: the shortest form, or sign-extended to `size` (a fixed). */
export function decimalToBytes(unscaled: bigint, size?: number): Buffer {
  let length = 1;
  while (unscaled < -(1n << BigInt(8 * length - 1)) || unscaled >= 1n << BigInt(8 * length - 1)) length++;
  const total = size ?? length;
  const out = Buffer.alloc(total);
  let rest = BigInt.asUintN(8 * total, unscaled);
  for (let i = total - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** What a rule's values are, for "expected …" messages. */
export function describeRule(rule: ValueRule): string {
  switch (rule.type) {
    case 'int':
    case 'long':
      return rule.logicalType === undefined ? rule.what : `${rule.what}, ${rule.min}..${rule.max}`;
    case 'float':
      return 'a float (number)';
    case 'double':
      return 'a double (number)';
    case 'string':
      return rule.uuid ? 'a UUID string' : 'a string';
    case 'bytes':
      return rule.decimal ? `a decimal(${rule.decimal.precision}, ${rule.decimal.scale}) as bytes` : 'bytes (a Buffer)';
    case 'fixed':
      return rule.decimal ? `a decimal(${rule.decimal.precision}, ${rule.decimal.scale}) as ${rule.size} bytes` : `${rule.size} bytes (a Buffer)`;
    default:
      return rule.type === 'null' ? 'null' : 'a boolean';
  }
}

/** A value, briefly, for "got …" messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    // JSON.stringify escapes lone surrogates, so a message never carries one itself.
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
