// The event-type registry: loads schemas/<type>/{type.json,v<N>.avsc}, validates them, and refuses incompatible versions.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { HourglassError } from '../errors/catalogue.ts';
import { explainIncompatibility } from './compatibility.ts';
import { deliveredSchemaOf, RESERVED_FIELD_NAMES } from './delivered-schema.ts';
import { readJsonFile } from './json-file.ts';
import { validateValue } from './payload-validator.ts';
import { schemaTree, SchemaTreeError, type RecordNode, type SchemaNode, type UnionNode } from './schema-tree.ts';
import { parseTypeConfig, type TypeConfig } from './type-config.ts';
import { assertValidTypeName } from './type-name.ts';

/** One version of one event type's schema, with the avsc types built once. */
export interface SchemaVersion {
  readonly version: number;
  readonly file: string;
  /** The producer's record schema, as written in the .avsc file. */
  readonly payloadSchema: Record<string, unknown>;
  readonly payloadType: avro.Type;
  /** The producer's schema as the validators walk it: avsc's structure with the logical types and their value rules. */
  readonly payloadTree: SchemaNode;
  /** The record as delivered: identity fields plus the producer's fields (see delivered-schema.ts). */
  readonly deliveredSchema: Record<string, unknown>;
  /** The delivered schema as written in every staging and part file: logical types, docs and defaults included. */
  readonly deliveredSchemaJson: string;
  readonly deliveredType: avro.Type;
}

export interface EventType {
  readonly name: string;
  readonly dir: string;
  readonly config: TypeConfig;
  /** Ascending by version, starting at 1, without gaps. */
  readonly versions: readonly SchemaVersion[];
  readonly latest: SchemaVersion;
}

/** The schemas folder shipped with hourglass. */
export const DEFAULT_SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

const VERSION_FILE = /^v([1-9][0-9]*)\.avsc$/;

export class Registry {
  readonly dir: string;
  readonly #types: ReadonlyMap<string, EventType>;
  readonly #resolvers = new Map<string, avro.Resolver>();

  private constructor(dir: string, types: ReadonlyMap<string, EventType>) {
    this.dir = dir;
    this.#types = types;
  }

  /** Loads and validates every type under `dir`; throws a HourglassError naming the file at fault. */
  static async load(dir: string = DEFAULT_SCHEMAS_DIR): Promise<Registry> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
      throw new HourglassError('HG_REGISTRY_BAD_FILE', `${dir}: cannot read the schemas folder`, { cause: err });
    });
    const types = new Map<string, EventType>();
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      assertValidTypeName(entry.name, path.join(dir, entry.name));
      types.set(entry.name, await loadType(path.join(dir, entry.name), entry.name));
    }
    return new Registry(dir, types);
  }

  /** All types, sorted by name. */
  types(): EventType[] {
    return [...this.#types.values()];
  }

  names(): string[] {
    return [...this.#types.keys()];
  }

  get(name: string): EventType | undefined {
    return this.#types.get(name);
  }

  /** The type, or HG_UNKNOWN_TYPE. */
  require(name: string): EventType {
    const type = this.#types.get(name);
    if (!type) {
      throw new HourglassError('HG_UNKNOWN_TYPE', `unknown event type "${name}" (known: ${this.names().join(', ')})`, {
        details: { type: name },
      });
    }
    return type;
  }

  /** One version of a type, or HG_UNKNOWN_TYPE / HG_UNKNOWN_VERSION. */
  version(name: string, version: number): SchemaVersion {
    const type = this.require(name);
    const found = type.versions[version - 1];
    if (!found || found.version !== version) {
      throw new HourglassError(
        'HG_UNKNOWN_VERSION',
        `event type "${name}" has no schema version ${version} (versions 1..${type.latest.version})`,
        { details: { type: name, version } },
      );
    }
    return found;
  }

  /** A resolver reading delivered records written in `from` as the delivered schema of `to` (cached). */
  resolver(name: string, from: number, to: number): avro.Resolver {
    const key = `${name}:${from}:${to}`;
    let resolver = this.#resolvers.get(key);
    if (!resolver) {
      resolver = this.version(name, to).deliveredType.createResolver(this.version(name, from).deliveredType);
      this.#resolvers.set(key, resolver);
    }
    return resolver;
  }
}

async function loadType(dir: string, name: string): Promise<EventType> {
  const files = await readdir(dir);
  if (!files.includes('type.json')) {
    throw new HourglassError('HG_REGISTRY_BAD_FILE', `${path.join(dir, 'type.json')}: missing (every type needs one)`);
  }
  const config = parseTypeConfig(await readJsonFile(path.join(dir, 'type.json')), path.join(dir, 'type.json'));
  const numbers: number[] = [];
  for (const file of files) {
    if (file === 'type.json') continue;
    const match = VERSION_FILE.exec(file);
    if (!match) {
      throw new HourglassError('HG_REGISTRY_BAD_FILE', `${path.join(dir, file)}: unexpected file (expected type.json and v<N>.avsc)`);
    }
    numbers.push(Number(match[1]));
  }
  numbers.sort((a, b) => a - b);
  if (numbers.length === 0) throw new HourglassError('HG_REGISTRY_BAD_FILE', `${dir}: no schema versions (expected v1.avsc)`);
  numbers.forEach((n, i) => {
    if (n !== i + 1) {
      throw new HourglassError('HG_REGISTRY_BAD_FILE', `${dir}: schema versions must be v1..vN without gaps, found ${numbers.map((v) => `v${v}`).join(', ')}`);
    }
  });
  const versions: SchemaVersion[] = [];
  for (const n of numbers) versions.push(await loadVersion(path.join(dir, `v${n}.avsc`), n));
  checkCompatibility(name, versions);
  return { name, dir, config, versions, latest: versions[versions.length - 1]! };
}

async function loadVersion(file: string, version: number): Promise<SchemaVersion> {
  const raw = await readJsonFile(file);
  const bad = (what: string): never => {
    throw new HourglassError('HG_REGISTRY_BAD_FILE', `${file}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('must be an Avro record schema object');
  const schema = raw as Record<string, unknown>;
  if (schema.type !== 'record') bad(`top-level type must be "record", not ${JSON.stringify(schema.type)}`);
  if (!Array.isArray(schema.fields)) bad('"fields" must be an array');
  for (const field of schema.fields as Array<{ name?: unknown }>) {
    if (typeof field.name === 'string' && RESERVED_FIELD_NAMES.has(field.name)) {
      bad(`field "${field.name}" is reserved for hourglass's identity fields (${[...RESERVED_FIELD_NAMES].join(', ')})`);
    }
  }
  let payloadType: avro.Type;
  let deliveredType: avro.Type;
  const deliveredSchema = deliveredSchemaOf(schema as never) as unknown as Record<string, unknown>;
  try {
    payloadType = avro.Type.forSchema(schema as avro.Schema);
    deliveredType = avro.Type.forSchema(deliveredSchema as avro.Schema);
  } catch (err) {
    return bad(`not a valid Avro schema: ${(err as Error).message}`);
  }
  let payloadTree: SchemaNode;
  try {
    payloadTree = schemaTree(payloadType, schema);
  } catch (err) {
    if (err instanceof SchemaTreeError) return bad(err.message);
    throw err;
  }
  const refused = refusedFieldOrDefault(payloadTree) ?? protoKeyInDefault(schema);
  if (refused !== undefined) bad(refused);
  return {
    version,
    file,
    payloadSchema: schema,
    payloadType,
    payloadTree,
    deliveredSchema,
    // Written as declared: avsc's own schema() drops what it does not implement (logical types, so
    // receive_time would read as a plain long), and readers need them.
    deliveredSchemaJson: JSON.stringify(deliveredSchema),
    deliveredType,
  };
}

/** What each primitive can be promoted to in Avro schema resolution. */
const PROMOTIONS: Readonly<Record<string, readonly string[]>> = { int: ['long', 'float', 'double'], long: ['float', 'double'], float: ['double'], string: ['bytes'], bytes: ['string'] };

/**
 * Schema resolution reads a union's value as the reader's first branch that can read it, promotions
 * included (the Avro specification, and avsc, with which the checker reads older versions as the
 * newest): in ["null", "bytes", "string"] a string is read back as bytes, in ["double", "long"] a long
 * as a double. Such a union would change values whenever a reader's version differs from the writer's.
 */
function shadowedBranch(union: UnionNode): string | undefined {
  const typeOf = (node: SchemaNode) => (node.kind === 'value' ? node.rule.type : undefined);
  for (let later = 1; later < union.branches.length; later++) {
    const laterType = typeOf(union.branches[later]!.node);
    for (let earlier = 0; earlier < later && laterType !== undefined; earlier++) {
      const earlierType = typeOf(union.branches[earlier]!.node);
      if (earlierType !== undefined && PROMOTIONS[laterType]?.includes(earlierType)) {
        return `the union's ${laterType} branch comes after ${earlierType}, which schema resolution reads a ${laterType} as (the first branch it can be promoted to), so a reader of another version would change the value; list int, long, float and double from narrowest to widest, and do not put bytes and string in one union`;
      }
    }
  }
  return undefined;
}

/**
 * A field name that a JavaScript object cannot carry as data (it is inherited by every object, so a
 * payload without it would read as a function), or a default that is not a valid value: why, or undefined.
 */
function refusedFieldOrDefault(tree: SchemaNode): string | undefined {
  const seen = new Set<RecordNode>();
  const visit = (node: SchemaNode, path: string): string | undefined => {
    switch (node.kind) {
      case 'array':
        return visit(node.items, path);
      case 'map':
        return visit(node.values, path);
      case 'union': {
        const shadowed = shadowedBranch(node);
        if (shadowed !== undefined) return `${path === '' ? '' : `field "${path}": `}${shadowed}`;
        for (const branch of node.branches) {
          const found = visit(branch.node, path);
          if (found !== undefined) return found;
        }
        return undefined;
      }
      case 'record':
        if (seen.has(node)) return undefined;
        seen.add(node);
        for (const field of node.fields) {
          const fieldPath = path === '' ? field.name : `${path}.${field.name}`;
          if (field.name in Object.prototype) return `field "${fieldPath}": the name "${field.name}" is a property every JavaScript object inherits; rename the field`;
          if (field.defaultValue !== undefined) {
            const problem = validateValue(field.node, field.defaultValue)[0];
            if (problem !== undefined) return `field "${fieldPath}": the default is not a valid value: ${problem.path ? `${problem.path}: ` : ''}${problem.message}`;
          }
          const found = visit(field.node, fieldPath);
          if (found !== undefined) return found;
        }
        return undefined;
      default:
        return undefined;
    }
  };
  return visit(tree, '');
}

/** avsc reads a map default's "__proto__" key as the map's prototype, so the check of parsed defaults cannot see it: look in the JSON. */
function protoKeyInDefault(schema: unknown): string | undefined {
  const holds = (value: unknown): boolean =>
    typeof value === 'object' && value !== null && (Object.hasOwn(value, '__proto__') || Object.values(value).some(holds));
  const visit = (node: unknown): string | undefined => {
    if (typeof node !== 'object' || node === null) return undefined;
    if (Array.isArray(node)) return node.map(visit).find((found) => found !== undefined);
    const record = node as { fields?: unknown; type?: unknown; items?: unknown; values?: unknown };
    for (const field of Array.isArray(record.fields) ? (record.fields as Array<{ name?: unknown; default?: unknown; type?: unknown }>) : []) {
      if (holds(field.default)) return `field "${String(field.name)}": the default is not a valid value: it holds the map key "__proto__", which JavaScript readers cannot keep`;
      const found = visit(field.type);
      if (found !== undefined) return found;
    }
    return visit(record.type) ?? visit(record.items) ?? visit(record.values);
  };
  return visit(schema);
}

function checkCompatibility(name: string, versions: readonly SchemaVersion[]): void {
  for (let newer = 1; newer < versions.length; newer++) {
    for (let older = 0; older < newer; older++) {
      const reader = versions[newer]!;
      const writer = versions[older]!;
      const why = explainIncompatibility(reader.deliveredType, writer.deliveredType);
      if (why !== null) {
        throw new HourglassError(
          'HG_REGISTRY_INCOMPATIBLE',
          `${reader.file}: event type "${name}" version ${reader.version} cannot read data written with version ${writer.version}: ${why}`,
          { details: { type: name, readerVersion: reader.version, writerVersion: writer.version } },
        );
      }
    }
  }
}
