// Checks a producer's payload (a JavaScript value in avsc's representation) and a client event id against valid-values.ts, naming every fault by field path.
//
// Used by the SDK before anything is accepted, by the gateway (through the SDK, after its JSON
// mapping) and by the CLI. avsc's own isValid is not enough: it passes lone surrogates, longs and
// floats it then writes differently, out-of-range logical values, and inherited names such as
// "toString" as enum symbols (written as the first symbol). This walks the schema tree instead,
// compiled once per schema version into closures, reading values the way avsc's writer does.
import type { SchemaVersion } from './registry.ts';
import type { RecordNode, SchemaNode, UnionNode } from './schema-tree.ts';
import { bytesProblem, describeRule, describeValue, floatProblem, integerProblem, mapKeyProblem, stringProblem, type ValueRule } from './valid-values.ts';

export interface FieldProblem {
  /** Dotted path of the offending field ("" for the event itself). */
  readonly path: string;
  readonly message: string;
}

/** Longest client event id, in characters. */
export const EVENT_ID_MAX_CHARS = 256;

/** Every way `payload` fails the schema of `version`; empty when it is valid. Undeclared fields count as faults (typos lose data). */
export function validatePayload(version: Pick<SchemaVersion, 'payloadTree'>, payload: unknown): FieldProblem[] {
  return validateValue(version.payloadTree, payload);
}

/** Every way `value` fails `node`, with paths relative to it; empty when it is valid. */
export function validateValue(node: SchemaNode, value: unknown): FieldProblem[] {
  const check = compiledCheck(node);
  // The common case, a valid event, costs one pass that builds nothing.
  if (check(value, undefined)) return [];
  const faults: Faults = { path: [], problems: [] };
  check(value, faults);
  return faults.problems;
}

/** Problems with a client event id, if one is given. */
export function validateEventId(eventId: unknown): FieldProblem[] {
  if (eventId === undefined) return [];
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > EVENT_ID_MAX_CHARS) {
    return [{ path: 'event_id', message: `must be a non-empty string of at most ${EVENT_ID_MAX_CHARS} characters` }];
  }
  const problem = stringProblem(eventId, false);
  return problem === undefined ? [] : [{ path: 'event_id', message: `must be Unicode text: ${problem}` }];
}

/** Where the slow pass is, and what it found. Absent on the fast pass, which stops at the first fault. */
interface Faults {
  readonly path: string[];
  readonly problems: FieldProblem[];
}

/** True when `value` is valid; on a slow pass, every fault is added to `faults`. */
type Check = (value: unknown, faults: Faults | undefined) => boolean;

const compiled = new WeakMap<SchemaNode, Check>();

function compiledCheck(node: SchemaNode): Check {
  let check = compiled.get(node);
  if (check === undefined) {
    if (node.kind === 'record') {
      // Registered before its fields compile, so a recursive record refers to itself.
      let body: Check = () => true;
      compiled.set(node, (value, faults) => body(value, faults));
      body = recordCheck(node);
      check = compiled.get(node)!;
    } else {
      check = compile(node);
      compiled.set(node, check);
    }
  }
  return check;
}

function compile(node: SchemaNode): Check {
  switch (node.kind) {
    case 'value':
      return valueCheck(node.rule);
    case 'enum': {
      const expected = `one of ${[...node.symbols].join(', ')}`;
      // A Set, not avsc's symbol-to-index object, where "toString" is found on the prototype.
      return (value, faults) => (typeof value === 'string' && node.symbols.has(value)) || fault(faults, expected, value);
    }
    case 'array': {
      const items = compiledCheck(node.items);
      return (value, faults) => {
        if (!Array.isArray(value)) return fault(faults, 'an array', value);
        if (!faults) {
          for (let i = 0; i < value.length; i++) if (!items(value[i], undefined)) return false;
          return true;
        }
        let ok = true;
        for (let i = 0; i < value.length; i++) ok = within(faults, String(i), items, value[i]) && ok;
        return ok;
      };
    }
    case 'map': {
      const values = compiledCheck(node.values);
      return (value, faults) => {
        if (!isPlainObject(value)) return fault(faults, 'a map (an object)', value);
        const map = value as Record<string, unknown>;
        let ok = true;
        for (const key of Object.keys(map)) {
          const keyProblem = mapKeyProblem(key);
          if (keyProblem !== undefined) ok = fault(faults, '', undefined, `the key ${describeValue(key)}: ${keyProblem}`);
          else ok = (faults ? within(faults, key, values, map[key]) : values(map[key], undefined)) && ok;
          if (!ok && !faults) return false;
        }
        return ok;
      };
    }
    case 'union':
      return unionCheck(node);
    case 'record':
      return compiledCheck(node);
  }
}

function valueCheck(rule: ValueRule): Check {
  const expected = describeRule(rule);
  const verdict = (value: unknown, reason: string | undefined, faults: Faults | undefined) => reason === undefined || fault(faults, expected, value, reason);
  switch (rule.type) {
    case 'null':
      return (value, faults) => value === null || fault(faults, expected, value);
    case 'boolean':
      return (value, faults) => typeof value === 'boolean' || fault(faults, expected, value);
    case 'int':
    case 'long': {
      const { min, max } = rule;
      return (value, faults) =>
        typeof value === 'number' ? (Number.isInteger(value) && value >= min && value <= max) || verdict(value, integerProblem(rule, value), faults) : fault(faults, expected, value);
    }
    case 'float':
      return (value, faults) => (typeof value === 'number' ? verdict(value, floatProblem(value), faults) : fault(faults, expected, value));
    case 'double':
      return (value, faults) => typeof value === 'number' || fault(faults, expected, value);
    case 'string':
      // The common case, well-formed text outside a uuid, is one check.
      return (value, faults) =>
        typeof value === 'string' ? (!rule.uuid && value.isWellFormed()) || verdict(value, stringProblem(value, rule.uuid), faults) : fault(faults, expected, value);
    case 'bytes':
    case 'fixed':
      return (value, faults) => (Buffer.isBuffer(value) ? verdict(value, bytesProblem(rule, value), faults) : fault(faults, expected, value));
  }
}

function recordCheck(node: RecordNode): Check {
  const fields = node.fields.map((f) => ({ name: f.name, hasDefault: f.defaultValue !== undefined, check: compiledCheck(f.node) }));
  const declared = new Set(node.fields.map((f) => f.name));
  return (value, faults) => {
    if (!isPlainObject(value)) return fault(faults, `an object matching ${node.name}`, value);
    const record = value as Record<string, unknown>;
    let ok = true;
    for (const field of fields) {
      // Read as avsc's writer reads it (inherited properties included), so what passes is what is written.
      const fieldValue = record[field.name];
      if (fieldValue === undefined && field.hasDefault) continue;
      if (!faults) {
        if (!field.check(fieldValue, undefined)) return false;
      } else ok = within(faults, field.name, field.check, fieldValue) && ok;
    }
    // for-in, not Object.keys: no array per record. A plain object inherits no enumerable keys.
    for (const key in record) {
      if (declared.has(key) || !Object.hasOwn(record, key)) continue;
      if (!faults) return false;
      faults.path.push(key);
      ok = fault(faults, '', undefined, 'is not a field of the schema');
      faults.path.pop();
    }
    return ok;
  };
}

function unionCheck(node: UnionNode): Check {
  const branches = node.branches.map((b) => ({ name: b.name, bucket: b.bucket, check: compiledCheck(b.node) }));
  const expected = describeUnion(node);
  if (node.wrapped) {
    const byName = new Map(branches.map((b) => [b.name, b]));
    const hasNull = branches.some((b) => b.bucket === 'null');
    return (value, faults) => {
      if (value === null) return hasNull || fault(faults, expected, value);
      const keys = isPlainObject(value) ? Object.keys(value) : [];
      const branch = keys.length === 1 ? byName.get(keys[0]!) : undefined;
      if (branch === undefined || branch.bucket === 'null') return fault(faults, `${expected}, written {"<branch name>": value}`, value);
      const inner = (value as Record<string, unknown>)[branch.name];
      return faults ? within(faults, branch.name, branch.check, inner) : branch.check(inner, undefined);
    };
  }
  const byBucket = new Map(branches.map((b) => [b.bucket, b]));
  return (value, faults) => {
    const branch = byBucket.get(bucketOfValue(value));
    return branch === undefined ? fault(faults, expected, value) : branch.check(value, faults);
  };
}

/** avsc's bucket of a value (lib/types.js getValueBucket). */
function bucketOfValue(value: unknown): string {
  const type = typeof value;
  if (type !== 'object') return type;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return Buffer.isBuffer(value) ? 'buffer' : type;
}

function describeUnion(node: UnionNode): string {
  return node.branches.map((b) => describeNode(b.node)).join(' or ');
}

function describeNode(node: SchemaNode): string {
  switch (node.kind) {
    case 'value':
      return describeRule(node.rule);
    case 'enum':
      return `one of ${[...node.symbols].join(', ')}`;
    case 'array':
      return 'an array';
    case 'map':
      return 'a map';
    case 'record':
      return node.name;
    case 'union':
      return describeUnion(node);
  }
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** Runs `check` on the slow pass with `segment` appended to the path. */
function within(faults: Faults, segment: string, check: Check, value: unknown): boolean {
  faults.path.push(segment);
  try {
    return check(value, faults);
  } finally {
    faults.path.pop();
  }
}

/** Records a fault on the slow pass; always false. `reason` alone (no `expected`) is the whole message. */
function fault(faults: Faults | undefined, expected: string, value: unknown, reason?: string): false {
  if (faults) {
    const message = expected === '' ? reason! : `expected ${expected}, got ${describeValue(value)}${reason === undefined ? '' : `: ${reason}`}`;
    faults.problems.push({ path: faults.path.join('.'), message });
  }
  return false;
}
