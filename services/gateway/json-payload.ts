// The gateway's JSON mapping: a payload parsed from JSON becomes the value the SDK publishes (avsc's representation), checked with the rules of registry/valid-values.ts, every fault named by its JSON path.
//
// JSON cannot carry every Avro value as itself, so some types have a mapping (documented in the
// gateway README and docs/design.md):
// - bytes and fixed: a base64 string (RFC 4648, with padding), decoded exactly;
// - decimal (bytes or fixed): a decimal string such as "-12.50", at most `scale` digits after the
//   point and `precision` in all; JSON numbers are refused, since they arrive as doubles;
// - uuid on a fixed(16): the UUID text, as for a uuid string;
// - float and double: a JSON number, or the string "NaN", "Infinity" or "-Infinity"; a number too
//   large for a double (1e400 parses as Infinity) is refused rather than delivered as infinity;
// - a union is written bare when the JSON kind of the value picks one branch; when two branches
//   share a JSON kind (two numbers, two strings, two objects), it is {"<branch name>": value}, as in
//   Avro's JSON encoding (null stays null).
// For a schema that has none of these, the mapping is the identity, and the gateway leaves the
// check to the SDK's validator (same rules, same paths) rather than walking each payload twice.
import type { SchemaVersion } from '../registry/registry.ts';
import type { SchemaNode, UnionNode } from '../registry/schema-tree.ts';
import { decimalFits, decimalToBytes, describeRule, describeValue, floatProblem, isUuidText, integerProblem, mapKeyProblem, stringProblem, type DecimalRule, type ValueRule } from '../registry/valid-values.ts';

export interface JsonProblem {
  /** Dotted path inside the payload ("" for the payload itself). */
  readonly path: string;
  readonly message: string;
}

export type JsonPayload = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: JsonProblem[] };

/** Whether the payloads of `version` are sent in JSON as they are published (no bytes, fixed, float, double or union that needs wrapping). */
export function jsonIsIdentity(version: Pick<SchemaVersion, 'payloadTree'>): boolean {
  return compiled(version.payloadTree).identity;
}

/** `json` (a parsed payload) as the value to publish, or every fault in it. */
export function payloadFromJson(version: Pick<SchemaVersion, 'payloadTree'>, json: unknown): JsonPayload {
  const problems: JsonProblem[] = [];
  const value = compiled(version.payloadTree).convert(json, [], problems);
  return problems.length === 0 ? { ok: true, value } : { ok: false, problems };
}

/** Converts one JSON value; records faults in `problems` (the returned value is then meaningless). */
type Convert = (json: unknown, path: string[], problems: JsonProblem[]) => unknown;

interface Compiled {
  readonly convert: Convert;
  readonly identity: boolean;
}

const cache = new WeakMap<SchemaNode, Compiled>();

function compiled(node: SchemaNode): Compiled {
  let found = cache.get(node);
  if (found === undefined) {
    if (node.kind === 'record') {
      // Registered first, so a recursive record refers to itself.
      const holder: { convert: Convert; identity: boolean } = { convert: () => undefined, identity: true };
      cache.set(node, { convert: (j, p, pr) => holder.convert(j, p, pr), get identity() { return holder.identity; } });
      const built = compile(node);
      holder.convert = built.convert;
      holder.identity = built.identity;
      found = cache.get(node)!;
    } else {
      found = compile(node);
      cache.set(node, found);
    }
  }
  return found;
}

function fault(problems: JsonProblem[], path: string[], message: string): undefined {
  problems.push({ path: path.join('.'), message });
  return undefined;
}

const expectedGot = (expected: string, json: unknown, reason?: string) => `expected ${expected}, got ${describeValue(json)}${reason === undefined ? '' : `: ${reason}`}`;

function compile(node: SchemaNode): Compiled {
  switch (node.kind) {
    case 'value':
      return valueConverter(node.rule);
    case 'enum': {
      const expected = `one of ${[...node.symbols].join(', ')}`;
      return { identity: true, convert: (json, path, problems) => (typeof json === 'string' && node.symbols.has(json) ? json : fault(problems, path, expectedGot(expected, json))) };
    }
    case 'array': {
      const items = compiled(node.items);
      return {
        identity: items.identity,
        convert: (json, path, problems) => {
          if (!Array.isArray(json)) return fault(problems, path, expectedGot('an array', json));
          let out: unknown[] | undefined;
          for (let i = 0; i < json.length; i++) {
            path.push(String(i));
            const item = items.convert(json[i], path, problems);
            path.pop();
            if (item !== json[i]) (out ??= json.slice())[i] = item;
          }
          return out ?? json;
        },
      };
    }
    case 'map': {
      const values = compiled(node.values);
      return {
        identity: values.identity,
        convert: (json, path, problems) => {
          if (!isJsonObject(json)) return fault(problems, path, expectedGot('a map (an object)', json));
          let out: Record<string, unknown> | undefined;
          for (const key of Object.keys(json)) {
            const keyProblem = mapKeyProblem(key);
            if (keyProblem !== undefined) {
              fault(problems, path, `the key ${describeValue(key)}: ${keyProblem}`);
              continue;
            }
            path.push(key);
            const value = values.convert(json[key], path, problems);
            path.pop();
            if (value !== json[key]) (out ??= { ...json })[key] = value;
          }
          return out ?? json;
        },
      };
    }
    case 'record': {
      const fields = node.fields.map((f) => ({ name: f.name, hasDefault: f.defaultValue !== undefined, value: compiled(f.node) }));
      const declared = new Set(node.fields.map((f) => f.name));
      return {
        get identity() {
          return fields.every((f) => f.value.identity);
        },
        convert: (json, path, problems) => {
          if (!isJsonObject(json)) return fault(problems, path, expectedGot(`an object matching ${node.name}`, json));
          let out: Record<string, unknown> | undefined;
          for (const field of fields) {
            // Own properties only: a JSON object has no others, and "toString" must not be found on its prototype.
            const value = Object.hasOwn(json, field.name) ? json[field.name] : undefined;
            if (value === undefined && field.hasDefault) continue;
            path.push(field.name);
            const converted = field.value.convert(value, path, problems);
            path.pop();
            if (converted !== value) (out ??= { ...json })[field.name] = converted;
          }
          for (const key of Object.keys(json)) {
            if (!declared.has(key)) {
              path.push(key);
              fault(problems, path, 'is not a field of the schema');
              path.pop();
            }
          }
          return out ?? json;
        },
      };
    }
    case 'union':
      return unionConverter(node);
  }
}

// ---------------------------------------------------------------------------------------------

/** The JSON kinds a node's values take: what picks a branch of a bare union. */
function jsonKinds(node: SchemaNode): string[] {
  switch (node.kind) {
    case 'value':
      switch (node.rule.type) {
        case 'null':
          return ['null'];
        case 'boolean':
          return ['boolean'];
        case 'int':
        case 'long':
          return ['number'];
        case 'float':
        case 'double':
          return ['number', 'string'];
        default:
          return ['string'];
      }
    case 'enum':
      return ['string'];
    case 'array':
      return ['array'];
    case 'map':
    case 'record':
      return ['object'];
    case 'union':
      return node.branches.flatMap((b) => jsonKinds(b.node));
  }
}

function jsonKindOf(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'array';
  return typeof json;
}

/** Whether the branches' JSON kinds are disjoint, so a bare value picks its branch. */
function isBareInJson(node: UnionNode): boolean {
  const seen = new Set<string>();
  for (const branch of node.branches) {
    for (const kind of jsonKinds(branch.node)) {
      if (seen.has(kind)) return false;
      seen.add(kind);
    }
  }
  return true;
}

function unionConverter(node: UnionNode): Compiled {
  const branches = node.branches.map((b) => ({ name: b.name, isNull: b.bucket === 'null', kinds: jsonKinds(b.node), value: compiled(b.node) }));
  const bare = isBareInJson(node);
  // A JSON value becomes avsc's representation of the branch: wrapped when avsc wraps this union.
  const toAvsc = (branch: (typeof branches)[number], value: unknown) => (node.wrapped && !branch.isNull ? { [branch.name]: value } : value);
  const names = branches.filter((b) => !b.isNull).map((b) => b.name);
  const hasNull = branches.some((b) => b.isNull);
  if (bare) {
    const byKind = new Map(branches.flatMap((b) => b.kinds.map((k) => [k, b] as const)));
    const expected = `${hasNull ? 'null or ' : ''}a value of ${names.join(' or ')}`;
    return {
      get identity() {
        return !node.wrapped && branches.every((b) => b.value.identity);
      },
      convert: (json, path, problems) => {
        const branch = byKind.get(jsonKindOf(json));
        if (branch === undefined) return fault(problems, path, expectedGot(expected, json));
        const value = branch.value.convert(json, path, problems);
        return node.wrapped || value !== json ? toAvsc(branch, value) : json;
      },
    };
  }
  const byName = new Map(branches.filter((b) => !b.isNull).map((b) => [b.name, b]));
  const expected = `${hasNull ? 'null or ' : ''}an object with one key naming the branch (${names.join(', ')}), such as {"${names[0]}": …}`;
  return {
    identity: false,
    convert: (json, path, problems) => {
      if (json === null && hasNull) return null;
      const keys = isJsonObject(json) ? Object.keys(json) : [];
      const branch = keys.length === 1 ? byName.get(keys[0]!) : undefined;
      if (branch === undefined) return fault(problems, path, expectedGot(expected, json));
      path.push(branch.name);
      const value = branch.value.convert((json as Record<string, unknown>)[branch.name], path, problems);
      path.pop();
      return toAvsc(branch, value);
    },
  };
}

// ---------------------------------------------------------------------------------------------

const SPECIAL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

function valueConverter(rule: ValueRule): Compiled {
  switch (rule.type) {
    case 'null':
      return scalar(rule, (json) => json === null);
    case 'boolean':
      return scalar(rule, (json) => typeof json === 'boolean');
    case 'int':
    case 'long':
      return { identity: true, convert: (json, path, problems) => (typeof json === 'number' ? checked(json, integerProblem(rule, json), rule, path, problems) : fault(problems, path, expectedGot(describeRule(rule), json))) };
    case 'string':
      return { identity: true, convert: (json, path, problems) => (typeof json === 'string' ? checked(json, stringProblem(json, rule.uuid), rule, path, problems) : fault(problems, path, expectedGot(describeRule(rule), json))) };
    case 'float':
    case 'double': {
      const expected = `${describeRule(rule).replace(/ \(number\)$/, '')} (a JSON number, or "NaN", "Infinity" or "-Infinity")`;
      return {
        identity: false,
        convert: (json, path, problems) => {
          if (typeof json === 'string' && SPECIAL_NUMBERS.has(json)) return SPECIAL_NUMBERS.get(json);
          if (typeof json !== 'number') return fault(problems, path, expectedGot(expected, json));
          // JSON.parse turns a number past the double range into ±Infinity; the client did not send infinity.
          if (!Number.isFinite(json)) return fault(problems, path, expectedGot(expected, json, 'a JSON number too large for a double'));
          const reason = rule.type === 'float' ? floatProblem(json) : undefined;
          return reason === undefined ? json : fault(problems, path, expectedGot(expected, json, reason));
        },
      };
    }
    case 'bytes':
    case 'fixed':
      return { identity: false, convert: bytesConverter(rule) };
  }
}

function scalar(rule: ValueRule, ok: (json: unknown) => boolean): Compiled {
  return { identity: true, convert: (json, path, problems) => (ok(json) ? json : fault(problems, path, expectedGot(describeRule(rule), json))) };
}

function checked(json: unknown, reason: string | undefined, rule: ValueRule, path: string[], problems: JsonProblem[]): unknown {
  return reason === undefined ? json : fault(problems, path, expectedGot(describeRule(rule), json, reason));
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL_TEXT = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

function bytesConverter(rule: Extract<ValueRule, { type: 'bytes' | 'fixed' }>): Convert {
  const size = rule.type === 'fixed' ? rule.size : undefined;
  if (rule.decimal !== undefined) {
    const decimal = rule.decimal;
    const expected = `a decimal(${decimal.precision}, ${decimal.scale}) as a string such as "-12.5"`;
    return (json, path, problems) => {
      if (typeof json !== 'string') return fault(problems, path, expectedGot(expected, json, typeof json === 'number' ? 'a JSON number is a double and may have lost digits; send the decimal as a string' : undefined));
      const parsed = decimalBytes(json, decimal, size);
      return typeof parsed === 'string' ? fault(problems, path, expectedGot(expected, json, parsed)) : parsed;
    };
  }
  if (rule.type === 'fixed' && rule.uuid) {
    return (json, path, problems) =>
      typeof json === 'string' && isUuidText(json) ? Buffer.from(json.replaceAll('-', ''), 'hex') : fault(problems, path, expectedGot('a UUID string (8-4-4-4-12 hexadecimal digits)', json));
  }
  const expected = size === undefined ? 'bytes as a base64 string' : `${size} bytes as a base64 string`;
  return (json, path, problems) => {
    if (typeof json !== 'string') return fault(problems, path, expectedGot(expected, json));
    const bytes = BASE64.test(json) ? Buffer.from(json, 'base64') : undefined;
    // Buffer.from skips what is not base64 and ignores stray bits: only the canonical text of the bytes is accepted.
    if (bytes === undefined || bytes.toString('base64') !== json) return fault(problems, path, expectedGot(expected, json, 'not canonical base64 (A-Z a-z 0-9 + /, padded with =)'));
    if (size !== undefined && bytes.length !== size) return fault(problems, path, expectedGot(expected, json, `${bytes.length} bytes, not ${size}`));
    return bytes;
  };
}

/** The two's-complement bytes of a decimal string (minimal, or sign-extended to `size`), or why it does not fit. */
function decimalBytes(text: string, decimal: DecimalRule, size: number | undefined): Buffer | string {
  const match = DECIMAL_TEXT.exec(text);
  if (match === null) return 'not a decimal number (digits, an optional "-" and "." and no exponent)';
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > decimal.scale) return `more than ${decimal.scale} digits after the point`;
  const unscaled = BigInt(`${sign}${whole}${fraction.padEnd(decimal.scale, '0')}`);
  const shortest = decimalToBytes(unscaled);
  // The shared rule, on the shortest form: checked before sign-extending, which would wrap a value too large for the fixed.
  if (!decimalFits(shortest, 0, shortest.length, decimal.precision)) return `more than ${decimal.precision} digits`;
  return size === undefined ? shortest : decimalToBytes(unscaled, size);
}

function isJsonObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}
