// The Iceberg schema of a type's table: field ids from the Avro schema, kept by name across schema versions; new fields optional; what cannot map is refused with the field named.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { deliveredSchemaOf } from '../../services/registry/delivered-schema.ts';
import { mapAvroType, planSchema, receiveTimeFieldId, UnsupportedSchemaError } from '../../services/table/iceberg-schema.ts';

const delivered = (file: string) => JSON.stringify(deliveredSchemaOf(JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8'))));

describe('Iceberg schema of a table', () => {
  it('a new table numbers the fields from 1 in Avro order, with Avro nullability, receive_time as timestamptz', () => {
    const plan = planSchema(delivered('track_played/v1.avsc'), undefined, 0);
    assert.deepEqual(
      plan.schema.fields.map((f) => [f.id, f.name, f.type, f.required]),
      [
        [1, 'event_id', 'string', true],
        [2, 'receive_time', 'timestamptz', true],
        [3, 'publisher', 'string', true],
        [4, 'seq', 'long', true],
        [5, 'user_id', 'string', true],
        [6, 'track_id', 'string', true],
        [7, 'context_uri', 'string', false],
        [8, 'ms_played', 'long', true],
        [9, 'reason_start', 'string', true],
        [10, 'reason_end', 'string', true],
        [11, 'platform', 'string', true],
        [12, 'offline', 'boolean', true],
        [13, 'country', 'string', true],
      ],
    );
    assert.equal(plan.lastColumnId, 13);
    assert.equal(plan.evolves, false);
    assert.equal(receiveTimeFieldId(plan.schema), 2);
  });

  it('a later version keeps every id, adds its new field as optional with the next id, and says it evolves', () => {
    const v1 = planSchema(delivered('track_played/v1.avsc'), undefined, 0);
    const v2 = planSchema(delivered('track_played/v2.avsc'), v1.schema, v1.lastColumnId);
    assert.equal(v2.evolves, true);
    assert.deepEqual(v2.schema.fields.slice(0, 13), v1.schema.fields);
    assert.deepEqual(v2.schema.fields.slice(13).map((f) => [f.id, f.name, f.required]), [[14, 'shuffle', false]]);
    assert.equal(v2.schema['schema-id'], v1.schema['schema-id'] + 1);
    // The hour's columns carry the table's ids.
    assert.deepEqual(v2.columns.map((c) => c.field.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    // An older hour (v1) on the evolved table: nothing to evolve, same ids.
    const back = planSchema(delivered('track_played/v1.avsc'), v2.schema, v2.lastColumnId);
    assert.equal(back.evolves, false);
    assert.deepEqual(back.columns.map((c) => c.field.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('ids continue after last-column-id, not after the largest id in the current schema (a dropped column keeps its id)', () => {
    const v1 = planSchema(delivered('track_played/v1.avsc'), undefined, 0);
    const v2 = planSchema(delivered('track_played/v2.avsc'), v1.schema, 20);
    assert.equal(v2.schema.fields.at(-1)!.id, 21);
  });

  it('follows what Avro resolution lets a producer change: a field made nullable or dropped becomes optional, int widens to long, float to double; ids kept', () => {
    const record = (fields: unknown[]) => JSON.stringify({ type: 'record', name: 'R', fields });
    const base = planSchema(record([{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }, { name: 'c', type: 'float' }]), undefined, 0);
    const next = planSchema(record([{ name: 'a', type: 'long' }, { name: 'b', type: ['null', 'string'] }]), base.schema, 3);
    assert.equal(next.evolves, true);
    assert.deepEqual(next.schema.fields.map((f) => [f.id, f.name, f.type, f.required]), [[1, 'a', 'long', true], [2, 'b', 'string', false], [3, 'c', 'float', false]]);
    assert.deepEqual(next.columns.map((c) => [c.field.id, c.field.type]), [[1, 'long'], [2, 'string']], 'the hour is written with the widened type');
    const widened = planSchema(record([{ name: 'a', type: 'long' }, { name: 'b', type: ['null', 'string'] }, { name: 'c', type: 'double' }]), next.schema, 3);
    assert.deepEqual(widened.schema.fields.map((f) => f.type), ['long', 'string', 'double']);
    // An older hour (int, float) on the widened table: nothing to evolve, written as the table's long and double.
    const older = planSchema(record([{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }, { name: 'c', type: 'float' }]), widened.schema, 3);
    assert.equal(older.evolves, false);
    assert.deepEqual(older.columns.map((c) => c.field.type), ['long', 'string', 'double']);
  });

  it('refuses any other type change and unmappable types, naming the field', () => {
    const record = (fields: unknown[]) => JSON.stringify({ type: 'record', name: 'R', fields });
    const base = planSchema(record([{ name: 'a', type: 'long' }, { name: 'b', type: 'string' }]), undefined, 0);
    assert.throws(() => planSchema(record([{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }]), base.schema, 2), /field "a" is long in the table but string/);
    assert.throws(() => planSchema(record([{ name: 'a', type: 'double' }, { name: 'b', type: 'string' }]), base.schema, 2), /field "a" is long in the table but double/);
    for (const [t, msg] of [
      [{ type: 'array', items: 'int' }, /field "x": Avro array/],
      [{ type: 'map', values: 'int' }, /field "x": Avro map/],
      [['null', 'int', 'string'], /field "x": only a union of null and one type/],
      [{ type: 'fixed', name: 'F', size: 4 }, /field "x": Avro fixed/],
      ['null', /field "x": Avro type "null"/],
    ] as const) {
      assert.throws(() => mapAvroType('x', t), (err: unknown) => err instanceof UnsupportedSchemaError && msg.test((err as Error).message));
    }
  });

  it('maps logical types: timestamp-millis scaled to micros, local timestamps, dates, enums as strings', () => {
    assert.deepEqual(mapAvroType('t', { type: 'long', logicalType: 'timestamp-millis' }), { type: 'timestamptz', optional: false, scale: 'millis-to-micros' });
    assert.deepEqual(mapAvroType('t', { type: 'long', logicalType: 'local-timestamp-micros' }), { type: 'timestamp', optional: false, scale: 'as-is' });
    assert.deepEqual(mapAvroType('d', { type: 'int', logicalType: 'date' }), { type: 'date', optional: false, scale: 'as-is' });
    assert.deepEqual(mapAvroType('e', { type: 'enum', name: 'E', symbols: ['A'] }), { type: 'string', optional: false, scale: 'as-is' });
    assert.deepEqual(mapAvroType('u', ['null', { type: 'string', logicalType: 'uuid' }]), { type: 'string', optional: true, scale: 'as-is' });
  });
});
