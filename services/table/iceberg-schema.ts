// The Iceberg schema of an event type's table, derived from the Avro schema of its closed hours, with field ids kept stable across schema versions.
//
// Field ids are what Iceberg (and every reader of its Parquet files) matches columns by, so a field
// keeps its id for the life of the table: an Avro field is matched to the table's field of the same
// name, and a field the table has not seen gets the next id after `last-column-id`. A field added by a
// later schema version is optional in the table (older hours have no value for it, and a v2 table
// cannot add a required column). Delivered records are flat (services/registry/delivered-schema.ts),
// so only primitive Avro types, enums and ["null", T] unions map; anything else is refused with the
// field named, and the hour goes to the table's dead-letter area rather than into a wrong column.

export type IcebergPrimitive = 'string' | 'long' | 'int' | 'boolean' | 'double' | 'float' | 'binary' | 'timestamptz' | 'timestamp' | 'date';

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergPrimitive;
  readonly doc?: string;
}

export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly fields: readonly IcebergField[];
}

/** How one Avro field's values become the Iceberg column's: microseconds from milliseconds, or as they are. */
export type ValueScale = 'as-is' | 'millis-to-micros';

/** One column of an hour: the Avro field it is read from and the Iceberg field it is written to. */
export interface HourColumn {
  readonly field: IcebergField;
  /** The value in a record decoded without logical types (avsc), by Avro field name. */
  readonly avroName: string;
  readonly scale: ValueScale;
}

export class UnsupportedSchemaError extends Error {}

interface AvroField {
  readonly name: string;
  readonly type: unknown;
  readonly doc?: string;
}

interface Mapped {
  readonly type: IcebergPrimitive;
  readonly optional: boolean;
  readonly scale: ValueScale;
}

/** Maps one Avro field type; throws UnsupportedSchemaError naming the field. */
export function mapAvroType(fieldName: string, t: unknown): Mapped {
  if (Array.isArray(t)) {
    const branches = t.filter((b) => b !== 'null');
    if (branches.length !== 1 || branches.length === t.length) {
      throw new UnsupportedSchemaError(`field "${fieldName}": only a union of null and one type maps to an Iceberg column, got ${JSON.stringify(t)}`);
    }
    return { ...mapAvroType(fieldName, branches[0]), optional: true };
  }
  if (typeof t === 'string') {
    const primitive: Record<string, IcebergPrimitive> = { string: 'string', long: 'long', int: 'int', boolean: 'boolean', double: 'double', float: 'float', bytes: 'binary' };
    const p = primitive[t];
    if (!p) throw new UnsupportedSchemaError(`field "${fieldName}": Avro type "${t}" does not map to an Iceberg column`);
    return { type: p, optional: false, scale: 'as-is' };
  }
  if (typeof t === 'object' && t !== null) {
    const o = t as { type?: unknown; logicalType?: unknown };
    if (o.type === 'enum') return { type: 'string', optional: false, scale: 'as-is' };
    switch (`${String(o.type)}/${String(o.logicalType)}`) {
      case 'long/timestamp-micros':
        return { type: 'timestamptz', optional: false, scale: 'as-is' };
      case 'long/timestamp-millis':
        return { type: 'timestamptz', optional: false, scale: 'millis-to-micros' };
      case 'long/local-timestamp-micros':
        return { type: 'timestamp', optional: false, scale: 'as-is' };
      case 'long/local-timestamp-millis':
        return { type: 'timestamp', optional: false, scale: 'millis-to-micros' };
      case 'int/date':
        return { type: 'date', optional: false, scale: 'as-is' };
    }
    // Any other annotated primitive (uuid on a string, say) is its underlying type.
    if (typeof o.type === 'string' && o.type !== 'record' && o.type !== 'array' && o.type !== 'map' && o.type !== 'fixed') return mapAvroType(fieldName, o.type);
    throw new UnsupportedSchemaError(`field "${fieldName}": Avro ${String(o.type)}${o.logicalType ? ` (${String(o.logicalType)})` : ''} does not map to a flat Iceberg column`);
  }
  throw new UnsupportedSchemaError(`field "${fieldName}": unreadable Avro type ${JSON.stringify(t)}`);
}

export interface SchemaPlan {
  /** The schema the table must have to take this hour: `current` itself when nothing is new. */
  readonly schema: IcebergSchema;
  /** True when `schema` adds fields to `current` (a schema update must be committed first). */
  readonly evolves: boolean;
  readonly lastColumnId: number;
  /** The hour's columns, in Avro field order, with their table field ids. */
  readonly columns: readonly HourColumn[];
}

/** Iceberg's type promotions (spec, "Schema Evolution"): a column may widen, never narrow. */
const PROMOTIONS: Readonly<Record<string, IcebergPrimitive>> = { 'int>long': 'long', 'float>double': 'double' };

/**
 * The table schema an hour written with `avroSchemaJson` needs, given the table's current schema
 * (undefined for a new table). What Avro schema resolution lets a producer change, the table follows as
 * Iceberg allows it: a field made nullable, or dropped, becomes optional; int widens to long and float to
 * double (an older hour's narrower values are written widened). Throws UnsupportedSchemaError when a
 * field cannot map, or changes type otherwise.
 */
export function planSchema(avroSchemaJson: string, current: IcebergSchema | undefined, lastColumnId: number): SchemaPlan {
  const avro = JSON.parse(avroSchemaJson) as { type?: unknown; fields?: unknown };
  if (avro.type !== 'record' || !Array.isArray(avro.fields)) throw new UnsupportedSchemaError('the hour\'s Avro schema is not a record');
  const byName = new Map((current?.fields ?? []).map((f) => [f.name, f]));
  /** Fields of the current schema this hour changes (made optional, widened), by id. */
  const changed = new Map<number, IcebergField>();
  const added: IcebergField[] = [];
  const columns: HourColumn[] = [];
  let nextId = lastColumnId;
  for (const raw of avro.fields as AvroField[]) {
    const mapped = mapAvroType(raw.name, raw.type);
    const existing = byName.get(raw.name);
    let field: IcebergField;
    if (existing) {
      let type = existing.type;
      if (existing.type !== mapped.type) {
        const widened = PROMOTIONS[`${existing.type}>${mapped.type}`];
        const narrower = PROMOTIONS[`${mapped.type}>${existing.type}`];
        if (widened) type = widened;
        else if (!narrower) throw new UnsupportedSchemaError(`field "${raw.name}" is ${existing.type} in the table but ${mapped.type} in this hour's schema`);
      }
      const required = existing.required && !mapped.optional;
      field = type === existing.type && required === existing.required ? existing : { ...existing, type, required };
      if (field !== existing) changed.set(field.id, field);
    } else {
      field = {
        id: ++nextId,
        name: raw.name,
        // A new table takes the Avro nullability; a column added later is optional (older hours lack it).
        required: current === undefined && !mapped.optional,
        type: mapped.type,
        ...(typeof raw.doc === 'string' ? { doc: raw.doc } : {}),
      };
      added.push(field);
    }
    columns.push({ field, avroName: raw.name, scale: mapped.scale });
  }
  if (current) {
    // A required column this hour lacks (a later version dropped it) becomes optional: the hour's rows have no value.
    const inHour = new Set(columns.map((c) => c.field.name));
    for (const f of current.fields) if (f.required && !inHour.has(f.name)) changed.set(f.id, { ...f, required: false });
  }
  if (current && added.length === 0 && changed.size === 0) return { schema: current, evolves: false, lastColumnId, columns };
  const schema: IcebergSchema = {
    type: 'struct',
    'schema-id': current ? current['schema-id'] + 1 : 0,
    fields: [...(current?.fields ?? []).map((f) => changed.get(f.id) ?? f), ...added],
  };
  // The hour's columns as the new schema has them (a widened type is written widened).
  const byId = new Map(schema.fields.map((f) => [f.id, f]));
  return { schema, evolves: current !== undefined, lastColumnId: nextId, columns: columns.map((c) => ({ ...c, field: byId.get(c.field.id)! })) };
}

/** The id of the `receive_time` field, the source of the hour partition. */
export function receiveTimeFieldId(schema: IcebergSchema): number {
  const f = schema.fields.find((x) => x.name === 'receive_time');
  if (!f || f.type !== 'timestamptz') throw new UnsupportedSchemaError('the table has no receive_time timestamptz field to partition by hour');
  return f.id;
}
