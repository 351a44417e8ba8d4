// The gateway's documented JSON mapping, written from the README rather than from services/gateway/json-payload.ts: what a client sends for a value, and JSON text that can say what JSON.stringify cannot.
//
// JSON.stringify writes -0 as 0 and cannot write 1e400 or a number past the double range at all, so
// the tests build JSON values that may hold RawJson pieces and serialise them with jsonText().
import type { SchemaNode, UnionNode } from '../../services/registry/schema-tree.ts';

/** JSON text to emit as it is, e.g. "-0" or "1e400". */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** JSON text of a value that may hold RawJson pieces; -0 is written "-0" (JSON.parse reads it back as -0). */
export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Object.is(value, -0)) return '-0';
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${jsonText((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The JSON kinds of a node's values, as the README's union rule counts them. */
function kinds(node: SchemaNode): string[] {
  if (node.kind === 'value') {
    const t = node.rule.type;
    if (t === 'null' || t === 'boolean') return [t];
    if (t === 'int' || t === 'long') return ['number'];
    if (t === 'float' || t === 'double') return ['number', 'string'];
    return ['string'];
  }
  if (node.kind === 'enum') return ['string'];
  if (node.kind === 'array') return ['array'];
  if (node.kind === 'union') return node.branches.flatMap((b) => kinds(b.node));
  return ['object'];
}

/** README: a union is written bare when its branches' JSON kinds are distinct, else as {"<branch>": value}. */
export function bareInJson(node: UnionNode): boolean {
  const all = node.branches.flatMap((b) => kinds(b.node));
  return new Set(all).size === all.length;
}

/** What a client sends for a valid value of `node` (given in avsc's representation, as the SDK takes it). */
export function toGatewayJson(node: SchemaNode, value: unknown): unknown {
  switch (node.kind) {
    case 'value': {
      const rule = node.rule;
      if (rule.type === 'float' || rule.type === 'double') {
        const n = value as number;
        if (Number.isNaN(n)) return 'NaN';
        if (n === Infinity) return 'Infinity';
        if (n === -Infinity) return '-Infinity';
        return n;
      }
      if (rule.type === 'bytes' || rule.type === 'fixed') {
        const bytes = value as Buffer;
        if (rule.decimal) return decimalText(bytes, rule.decimal.scale);
        if (rule.type === 'fixed' && rule.uuid) {
          const hex = bytes.toString('hex');
          return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        }
        return bytes.toString('base64');
      }
      return value;
    }
    case 'enum':
      return value;
    case 'array':
      return (value as unknown[]).map((v) => toGatewayJson(node.items, v));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toGatewayJson(node.values, v);
      return out;
    }
    case 'record': {
      const record = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of node.fields) if (record[f.name] !== undefined) out[f.name] = toGatewayJson(f.node, record[f.name]);
      return out;
    }
    case 'union': {
      if (value === null) return null;
      let branch;
      let inner: unknown = value;
      if (node.wrapped) {
        const [name, v] = Object.entries(value as Record<string, unknown>)[0]!;
        branch = node.branches.find((b) => b.name === name)!;
        inner = v;
      } else {
        const bucket = Array.isArray(value) ? 'array' : Buffer.isBuffer(value) ? 'buffer' : typeof value;
        branch = node.branches.find((b) => b.bucket === bucket)!;
      }
      const json = toGatewayJson(branch.node, inner);
      return bareInJson(node) ? json : { [branch.name]: json };
    }
  }
}

/** A decimal's text from its two's-complement bytes: all `scale` digits after the point, "-" for negatives. */
export function decimalText(bytes: Buffer, scale: number): string {
  const unscaled = bytes.length === 0 ? 0n : BigInt.asIntN(bytes.length * 8, BigInt(`0x${bytes.toString('hex')}`));
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return unscaled < 0n ? `-${text}` : text;
}

// ---------------------------------------------------------------------------------------------

/** JSON with one fault, and the dotted JSON path where the gateway must report it. */
export interface JsonNearMiss {
  readonly json: unknown;
  readonly path: string;
  readonly fault: string;
}

const at = (segment: string, inner: JsonNearMiss): JsonNearMiss => ({ ...inner, path: inner.path === '' ? segment : `${segment}.${inner.path}` });
const here = (json: unknown, fault: string): JsonNearMiss => ({ json, path: '', fault });

/** Faults of a scalar's JSON: the wrong kind, numbers out of range or too large for a double, bad text. */
function ruleFaults(node: Extract<SchemaNode, { kind: 'value' }>): JsonNearMiss[] {
  const rule = node.rule;
  const out: JsonNearMiss[] = [];
  const wrong = rule.type === 'boolean' ? 'true' : rule.type === 'null' ? 0 : rule.type === 'int' || rule.type === 'long' ? '1' : true;
  out.push(here(wrong, 'wrong kind'));
  switch (rule.type) {
    case 'int':
    case 'long':
      out.push(here(rule.max + 1, 'one past the range'), here(rule.min - 1, 'one below the range'), here(1.5, 'not an integer'), here(new RawJson('1e400'), 'past the double range'));
      if (rule.type === 'long') out.push(here(new RawJson('9223372036854775807'), 'a 64-bit long, which JSON numbers cannot hold'));
      break;
    case 'float':
      out.push(here(1e39, 'float overflow'), here(new RawJson('1e400'), 'past the double range'), here('nan', 'not a special number'));
      break;
    case 'double':
      out.push(here(new RawJson('-1e400'), 'past the double range'), here('Inf', 'not a special number'));
      break;
    case 'string':
      out.push(here('ab\ud800', 'lone surrogate'), here('\udfff', 'lone low surrogate'));
      if (rule.uuid) out.push(here('not-a-uuid', 'not a UUID'));
      break;
    case 'bytes':
    case 'fixed':
      if (rule.decimal) {
        const { precision, scale } = rule.decimal;
        out.push(here(12.5, 'a JSON number'), here(`1.${'1'.repeat(scale + 1)}`, 'too many digits after the point'), here('1e3', 'exponent'));
        out.push(here(`${'9'.repeat(precision - scale + 1)}`, 'too many digits'));
      } else if (rule.type === 'fixed' && rule.uuid) {
        out.push(here('0f8fad5b-d9cb-469f-a165-70867728950', 'not a UUID'));
      } else {
        out.push(here('not base64!', 'not base64'), here('QR==', 'non-canonical padding bits'));
        if (rule.type === 'fixed') out.push(here(Buffer.alloc(rule.size + 1).toString('base64'), 'wrong size'));
      }
      break;
  }
  return out;
}

/** Near misses of `node`'s JSON, around the valid JSON `valid` of the same node. */
export function jsonNearMisses(node: SchemaNode, valid: unknown, depth = 0): JsonNearMiss[] {
  switch (node.kind) {
    case 'value':
      return ruleFaults(node);
    case 'enum':
      return [here('toString', 'inherited name'), here('constructor', 'inherited name'), here('NOT_A_SYMBOL', 'not a symbol'), here(0, 'wrong kind')];
    case 'array': {
      const items = valid as unknown[];
      const out = [here({}, 'not an array')];
      if (items.length > 0 && depth < 3) for (const m of jsonNearMisses(node.items, items[0], depth + 1)) out.push(at('0', { ...m, json: [m.json, ...items.slice(1)] }));
      return out;
    }
    case 'map': {
      const map = valid as Record<string, unknown>;
      const out = [here([], 'not a map'), here({ ...map, 'k\ud800': Object.values(map)[0] ?? null }, 'lone surrogate in a key')];
      out.push(here(JSON.parse(`{"__proto__": ${jsonText(Object.values(map)[0] ?? null)}}`), 'the key __proto__'));
      // Not the empty key: a path cannot tell "map." (key "") from "map".
      const [key, first] = Object.entries(map).find(([k]) => k !== '') ?? [];
      if (key !== undefined && depth < 3) for (const m of jsonNearMisses(node.values, first, depth + 1)) out.push(at(key, { ...m, json: { ...map, [key]: m.json } }));
      return out;
    }
    case 'record': {
      const record = valid as Record<string, unknown>;
      const out = [here([], 'not an object'), { json: { ...record, not_a_field: 1 }, path: 'not_a_field', fault: 'undeclared field' }];
      for (const f of node.fields) {
        if (f.defaultValue === undefined) {
          const copy = { ...record };
          delete copy[f.name];
          out.push({ json: copy, path: f.name, fault: 'missing field' });
        }
        if (depth < 3 && record[f.name] !== undefined) for (const m of jsonNearMisses(f.node, record[f.name], depth + 1)) out.push(at(f.name, { ...m, json: { ...record, [f.name]: m.json } }));
      }
      return out;
    }
    case 'union': {
      if (!bareInJson(node)) {
        const out = [here({ not_a_branch: 1 }, 'no such branch'), here({ toString: 1 }, 'inherited name as branch'), here({ [node.branches.at(-1)!.name]: null, [node.branches[0]!.name]: null }, 'two keys')];
        if (valid !== null && typeof valid === 'object') {
          const [name, inner] = Object.entries(valid as Record<string, unknown>)[0]!;
          out.push(here(inner ?? 1, 'bare value in a wrapped union'));
          const branch = node.branches.find((b) => b.name === name)!;
          if (depth < 3) for (const m of jsonNearMisses(branch.node, inner, depth + 1)) out.push(at(name, { ...m, json: { [name]: m.json } }));
        }
        return out;
      }
      // Bare: a kind no branch takes, or a fault of the branch the value's kind picks (keeping that kind).
      const taken = new Set(node.branches.flatMap((b) => kinds(b.node)));
      const out = (['boolean', 'array', 'object', 'number', 'string'] as const).filter((k) => !taken.has(k)).map((k) => here({ boolean: true, array: [], object: {}, number: 1, string: 'x' }[k], 'kind of no branch'));
      if (valid === null) return out;
      const kind = Array.isArray(valid) ? 'array' : typeof valid;
      const branch = node.branches.find((b) => kinds(b.node).includes(kind))!;
      if (depth < 3) {
        for (const m of jsonNearMisses(branch.node, valid, depth + 1)) {
          const mKind = m.json === null ? 'null' : Array.isArray(m.json) ? 'array' : m.json instanceof RawJson ? 'number' : typeof m.json;
          if (m.path !== '' || kinds(branch.node).includes(mKind)) out.push(m);
        }
      }
      return out;
    }
  }
}
