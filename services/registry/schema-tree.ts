// A producer schema as a tree the validators walk: avsc's view (union wrapping, defaults, resolved
// names) joined with what avsc drops (logical types, decimal precision), each leaf carrying its value
// rule from valid-values.ts.
//
// avsc, without logical-type implementations, builds a logical type as its underlying type and
// forgets the annotation, so the annotations are read from the schema JSON, walked in step with the
// avsc type (same field, item, value and branch order; named types looked up by full name).
import type avro from 'avsc';
import { LogicalTypeError, valueRuleOf, type TypeAttributes, type ValueRule } from './valid-values.ts';

export type SchemaNode = ValueNode | EnumNode | ArrayNode | MapNode | RecordNode | UnionNode;

export interface ValueNode {
  readonly kind: 'value';
  readonly rule: ValueRule;
}

export interface EnumNode {
  readonly kind: 'enum';
  readonly name: string;
  readonly symbols: ReadonlySet<string>;
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly items: SchemaNode;
}

export interface MapNode {
  readonly kind: 'map';
  readonly values: SchemaNode;
}

export interface FieldNode {
  readonly name: string;
  readonly node: SchemaNode;
  /** The field's default in avsc's representation (undefined: none); avsc writes it when a value lacks the field. */
  readonly defaultValue: unknown;
}

export interface RecordNode {
  readonly kind: 'record';
  readonly name: string;
  /** Filled right after the node is made, so a recursive record can refer to itself. */
  readonly fields: FieldNode[];
}

export interface BranchNode {
  readonly node: SchemaNode;
  /** The branch's name in a wrapped union value: the full name of a named type, else the type name. */
  readonly name: string;
  /** avsc's bucket for unwrapped unions: number, string, buffer, object, array, boolean or null. */
  readonly bucket: string;
}

export interface UnionNode {
  readonly kind: 'union';
  /** True when avsc represents values as {"<branch name>": value} (its unions whose branches share a bucket). */
  readonly wrapped: boolean;
  readonly branches: readonly BranchNode[];
}

/** A schema that avsc accepts but hourglass does not (a refused logical type…); `path` is the dotted field path. */
export class SchemaTreeError extends Error {
  readonly path: string;
  constructor(message: string, path: string) {
    super(path === '' ? message : `field "${path}": ${message}`);
    this.name = 'SchemaTreeError';
    this.path = path;
  }
}

type Json = string | Json[] | { [key: string]: unknown };

/** The tree of `type`, built with avsc from `schema`. Throws SchemaTreeError for an annotation hourglass refuses. */
export function schemaTree(type: avro.Type, schema: unknown): SchemaNode {
  return new TreeBuilder(schema as Json).build(type, schema as Json, '');
}

class TreeBuilder {
  readonly #definitions = new Map<string, Json>();
  readonly #records = new Map<avro.Type, RecordNode>();

  constructor(schema: Json) {
    this.#collect(schema, '');
  }

  build(type: avro.Type, json: Json, path: string): SchemaNode {
    const schema = unwrap(type.name === undefined ? json : (this.#definitions.get(type.name) ?? json));
    switch (type.typeName) {
      case 'record':
      case 'error':
        return this.#record(type as avro.types.RecordType, schema, path);
      case 'enum':
        return { kind: 'enum', name: type.name ?? 'enum', symbols: new Set((type as avro.types.EnumType).symbols) };
      case 'array':
        return { kind: 'array', items: this.build((type as avro.types.ArrayType).itemsType, objectAt(schema, 'items'), path) };
      case 'map':
        return { kind: 'map', values: this.build((type as avro.types.MapType).valuesType as avro.Type, objectAt(schema, 'values'), path) };
      case 'union:wrapped':
      case 'union:unwrapped': {
        const branchTypes = (type as avro.types.UnwrappedUnionType).types;
        const branchSchemas = Array.isArray(schema) ? schema : [];
        return {
          kind: 'union',
          wrapped: type.typeName === 'union:wrapped',
          branches: branchTypes.map((t, i) => ({ node: this.build(t, branchSchemas[i] ?? t.typeName, path), name: t.branchName ?? t.typeName, bucket: bucketOf(t) })),
        };
      }
      default:
        return { kind: 'value', rule: this.#rule(type, schema, path) };
    }
  }

  #record(type: avro.types.RecordType, schema: Json, path: string): RecordNode {
    const known = this.#records.get(type);
    if (known) return known;
    const node: RecordNode = { kind: 'record', name: type.name ?? 'record', fields: [] };
    this.#records.set(type, node);
    const fieldSchemas = (typeof schema === 'object' && !Array.isArray(schema) && Array.isArray(schema.fields) ? schema.fields : []) as Array<{ type?: Json }>;
    type.fields.forEach((field, i) => {
      const fieldPath = path === '' ? field.name : `${path}.${field.name}`;
      node.fields.push({ name: field.name, node: this.build(field.type, fieldSchemas[i]?.type ?? field.type.typeName, fieldPath), defaultValue: field.defaultValue() });
    });
    return node;
  }

  #rule(type: avro.Type, schema: Json, path: string): ValueRule {
    const attributes: TypeAttributes =
      typeof schema === 'object' && !Array.isArray(schema) && schema.type === type.typeName
        ? (schema as unknown as TypeAttributes)
        : { type: type.typeName, ...(type.typeName === 'fixed' ? { size: (type as avro.types.FixedType).size } : {}) };
    try {
      return valueRuleOf(attributes);
    } catch (err) {
      if (err instanceof LogicalTypeError) throw new SchemaTreeError(err.message, path);
      throw err;
    }
  }

  /** Records every named definition by its full name (Avro's namespace rules), so references find their attributes. */
  #collect(schema: Json, namespace: string): void {
    if (Array.isArray(schema)) {
      for (const branch of schema) this.#collect(branch, namespace);
      return;
    }
    if (typeof schema !== 'object' || schema === null) return;
    if (typeof schema.type === 'object' && schema.type !== null) {
      this.#collect(schema.type as Json, namespace);
      return;
    }
    let inner = namespace;
    if ((schema.type === 'record' || schema.type === 'error' || schema.type === 'enum' || schema.type === 'fixed') && typeof schema.name === 'string') {
      const full = schema.name.includes('.') ? schema.name : `${typeof schema.namespace === 'string' ? schema.namespace : namespace}.${schema.name}`.replace(/^\./, '');
      this.#definitions.set(full, schema);
      inner = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : '';
    }
    if (Array.isArray(schema.fields)) for (const field of schema.fields as Array<{ type?: Json }>) if (field?.type !== undefined) this.#collect(field.type, inner);
    if (schema.items !== undefined) this.#collect(schema.items as Json, inner);
    if (schema.values !== undefined) this.#collect(schema.values as Json, inner);
  }
}

/** `{"type": {...}}` is the schema inside it. */
function unwrap(schema: Json): Json {
  let s = schema;
  while (typeof s === 'object' && !Array.isArray(s) && s !== null && typeof s.type === 'object' && s.type !== null) s = s.type as Json;
  return s;
}

function objectAt(schema: Json, key: string): Json {
  return typeof schema === 'object' && !Array.isArray(schema) ? ((schema[key] as Json | undefined) ?? '') : '';
}

/** avsc's bucket of a branch type (lib/types.js getTypeBucket): which JavaScript values select it in an unwrapped union. */
function bucketOf(type: avro.Type): string {
  switch (type.typeName) {
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 'number';
    case 'bytes':
    case 'fixed':
      return 'buffer';
    case 'enum':
      return 'string';
    case 'map':
    case 'record':
    case 'error':
      return 'object';
    default:
      return type.typeName;
  }
}
