// Registry tests: the shipped types load; bad names, bad JSON, bad configs and incompatible versions are refused clearly.
import assert from 'node:assert/strict';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SCHEMAS_DIR, Registry } from '../../services/registry/registry.ts';
import { hasCode } from '../../services/errors/catalogue.ts';
import { FIXTURE_SCHEMAS_DIR } from '../helpers/fixture-schemas.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function copyOfShippedSchemas(): Promise<string> {
  const dir = path.join(await tempDir(), 'schemas');
  await cp(DEFAULT_SCHEMAS_DIR, dir, { recursive: true });
  return dir;
}

const minimalV1 = { type: 'record', name: 'Thing', fields: [{ name: 'a', type: 'string' }] };
const minimalConfig = { owner: 'team@example', tier: 'normal', livenessTimeoutS: 10, maxWaitS: 60 };

async function addType(dir: string, name: string, versions: unknown[], config: unknown = minimalConfig): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'type.json'), JSON.stringify(config));
  for (const [i, v] of versions.entries()) {
    await writeFile(path.join(dir, name, `v${i + 1}.avsc`), typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  }
}

describe('registry', () => {
  it('loads the shipped types with their tiers and versions', async () => {
    const registry = await Registry.load();
    assert.deepEqual(registry.names(), ['search_performed', 'track_played', 'ui_interaction']);
    const plays = registry.require('track_played');
    assert.equal(plays.config.tier, 'high');
    assert.equal(plays.latest.version, 2);
    assert.equal(registry.require('ui_interaction').config.tier, 'low');
  });

  it('delivers records with identity fields first and reads v1 data as v2 with the default filled', async () => {
    const registry = await Registry.load();
    const v1 = registry.version('track_played', 1);
    const record = {
      event_id: 'p-0', receive_time: 1, publisher: 'p', seq: 0,
      user_id: 'u', track_id: 't', context_uri: null, ms_played: 1000,
      reason_start: 'CLICK', reason_end: 'TRACK_DONE', platform: 'IOS', offline: false, country: 'SE',
    };
    const bytes = v1.deliveredType.toBuffer(record);
    const asV2 = registry.version('track_played', 2).deliveredType.fromBuffer(bytes, registry.resolver('track_played', 1, 2));
    assert.equal(asV2.shuffle, false);
    assert.equal(asV2.track_id, 't');
    const fieldNames = (v1.deliveredSchema.fields as Array<{ name: string }>).map((f) => f.name);
    assert.deepEqual(fieldNames.slice(0, 4), ['event_id', 'receive_time', 'publisher', 'seq']);
  });

  it('refuses an unknown type and an unknown version with typed errors', async () => {
    const registry = await Registry.load();
    assert.throws(() => registry.require('nope'), (e) => hasCode(e, 'HG_UNKNOWN_TYPE') && /unknown event type "nope"/.test(e.message));
    assert.throws(() => registry.version('track_played', 3), (e) => hasCode(e, 'HG_UNKNOWN_VERSION') && /no schema version 3/.test(e.message));
  });

  it('refuses a folder whose name is not a valid type name', async () => {
    for (const bad of ['Track', '9lives', 'has-dash', 'a'.repeat(64)]) {
      const dir = await copyOfShippedSchemas();
      await addType(dir, bad, [minimalV1]);
      await assert.rejects(Registry.load(dir), (e) => hasCode(e, 'HG_REGISTRY_BAD_NAME') && e.message.includes(`"${bad}" is not a valid event type name`));
    }
  });

  it('names the file, line and column of malformed JSON', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'broken', ['{\n  "type": "record",\n  "name": "X",\n  "fields": [,]\n}']);
    await assert.rejects(Registry.load(dir), (e) => {
      assert.ok(hasCode(e, 'HG_REGISTRY_BAD_FILE'));
      assert.match(e.message, /broken\/v1\.avsc:4:14: invalid JSON/);
      return true;
    });
  });

  it('refuses a bad type.json with the key at fault', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'cfg', [minimalV1], { ...minimalConfig, tier: 'urgent' });
    await assert.rejects(Registry.load(dir), /cfg\/type\.json: "tier" must be one of high, normal, low/);
    const dir2 = await copyOfShippedSchemas();
    await addType(dir2, 'cfg', [minimalV1], { ...minimalConfig, livenesTimeoutS: 3 });
    await assert.rejects(Registry.load(dir2), /unknown key "livenesTimeoutS"/);
  });

  it('refuses a producer field that collides with an identity field', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'clash', [{ ...minimalV1, fields: [{ name: 'seq', type: 'int' }] }]);
    await assert.rejects(Registry.load(dir), /clash\/v1\.avsc: field "seq" is reserved/);
  });

  it('refuses a new version that adds a field without a default, naming type, versions and field', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'evolving', [minimalV1, { ...minimalV1, fields: [...minimalV1.fields, { name: 'b', type: 'int' }] }]);
    await assert.rejects(Registry.load(dir), (e) => {
      assert.ok(hasCode(e, 'HG_REGISTRY_INCOMPATIBLE'));
      assert.match(e.message, /event type "evolving" version 2 cannot read data written with version 1: field "b" is missing from the older data and has no default/);
      return true;
    });
  });

  it('refuses a new version that changes a field to a type Avro cannot promote', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'retyped', [minimalV1, { ...minimalV1, fields: [{ name: 'a', type: 'long' }] }]);
    await assert.rejects(Registry.load(dir), /version 2 cannot read data written with version 1: field "a" changed from string to long/);
  });

  it('accepts a new version that widens int to long and adds a defaulted field', async () => {
    const dir = await copyOfShippedSchemas();
    const v1 = { ...minimalV1, fields: [{ name: 'n', type: 'int' }] };
    const v2 = { ...minimalV1, fields: [{ name: 'n', type: 'long' }, { name: 'm', type: ['null', 'string'], default: null }] };
    await addType(dir, 'widened', [v1, v2]);
    const registry = await Registry.load(dir);
    assert.equal(registry.require('widened').latest.version, 2);
  });

  it('refuses gaps in version numbers and stray files', async () => {
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'gappy', [minimalV1]);
    await writeFile(path.join(dir, 'gappy', 'v3.avsc'), JSON.stringify(minimalV1));
    await assert.rejects(Registry.load(dir), /without gaps, found v1, v3/);
    const dir2 = await copyOfShippedSchemas();
    await addType(dir2, 'stray', [minimalV1]);
    await writeFile(path.join(dir2, 'stray', 'notes.txt'), 'hi');
    await assert.rejects(Registry.load(dir2), /stray\/notes\.txt: unexpected file/);
  });

  it('the delivered schema is written as declared: logical types, docs and defaults kept (avsc\'s schema() drops logical types)', async () => {
    const registry = await Registry.load();
    const delivered = JSON.parse(registry.version('track_played', 2).deliveredSchemaJson) as { fields: Array<{ name: string; type: unknown; doc?: string }> };
    assert.deepEqual(delivered.fields.find((f) => f.name === 'receive_time')!.type, { type: 'long', logicalType: 'timestamp-micros' });
    assert.match(delivered.fields.find((f) => f.name === 'track_id')!.doc!, /Catalogue id/);
    const every = (await Registry.load(FIXTURE_SCHEMAS_DIR)).require('every_type').latest;
    const fields = (JSON.parse(every.deliveredSchemaJson) as { fields: Array<{ name: string; type: unknown }> }).fields;
    assert.deepEqual(fields.find((f) => f.name === 'amount')!.type, { type: 'bytes', logicalType: 'decimal', precision: 20, scale: 4 });
    assert.deepEqual(fields.find((f) => f.name === 'day')!.type, { type: 'int', logicalType: 'date' });
  });

  it('refuses logical types hourglass cannot honour and annotations that do not fit, naming file and field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ type: 'long', logicalType: 'timestamp-nanos' }, /field "x": logical type "timestamp-nanos" needs 64-bit longs/],
      [{ type: 'long', logicalType: 'date' }, /field "x": logical type "date" annotates an int, not a long/],
      [{ type: 'bytes', logicalType: 'decimal', precision: 4, scale: 5 }, /field "x": a decimal's "scale" must be an integer from 0 to its precision \(4\)/],
      [{ type: 'fixed', name: 'F', size: 4, logicalType: 'decimal', precision: 10 }, /field "x": a decimal in a fixed of 4 bytes holds at most 9 digits/],
      [{ type: 'fixed', name: 'U', size: 8, logicalType: 'uuid' }, /field "x": logical type "uuid" annotates a fixed of size 16, not 8/],
      [{ type: 'string', logicalType: 'email' }, /field "x": unknown logical type "email" \(hourglass supports date, .*decimal, duration\)/],
      [{ type: 'record', name: 'In', fields: [{ name: 'y', type: { type: 'int', logicalType: 'time-micros' } }] }, /field "x\.y": logical type "time-micros" annotates a long, not an int/],
    ];
    for (const [type, message] of cases) {
      const dir = await copyOfShippedSchemas();
      await addType(dir, 'annotated', [{ ...minimalV1, fields: [{ name: 'x', type }] }]);
      await assert.rejects(Registry.load(dir), (e) => hasCode(e, 'HG_REGISTRY_BAD_FILE') && /annotated\/v1\.avsc: /.test(e.message) && message.test(e.message), JSON.stringify(type));
    }
  });

  it('refuses a field named like a property every JavaScript object inherits, a default that is not a valid value, and a union that schema resolution reads as another branch', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ name: 'constructor', type: 'string' }, /field "constructor": the name "constructor" is a property every JavaScript object inherits/],
      [{ name: 'note', type: 'string', default: '\ud800' }, /field "note": the default is not a valid value: expected a string, got the string "\\ud800": it holds a lone surrogate/],
      [{ name: 'day', type: { type: 'int', logicalType: 'date' }, default: 3_000_000 }, /field "day": the default is not a valid value: expected a date/],
      [{ name: 'tags', type: { type: 'map', values: 'int' }, default: { ['__proto__']: 1 } }, /field "tags": the default is not a valid value: it holds the map key "__proto__"/],
      // Found by the pipeline property test: the checker read v1's string as v2's bytes.
      [{ name: 'raw', type: ['null', 'bytes', 'string'] }, /field "raw": the union's string branch comes after bytes, which schema resolution reads a string as/],
      [{ name: 'n', type: ['null', 'double', 'long'] }, /field "n": the union's long branch comes after double/],
    ];
    for (const [field, message] of cases) {
      const dir = await copyOfShippedSchemas();
      await addType(dir, 'odd', [{ ...minimalV1, fields: [field] }]);
      await assert.rejects(Registry.load(dir), (e) => hasCode(e, 'HG_REGISTRY_BAD_FILE') && message.test(e.message), JSON.stringify(field));
    }
    const dir = await copyOfShippedSchemas();
    await addType(dir, 'widening', [{ ...minimalV1, fields: [{ name: 'n', type: ['null', 'int', 'long', 'float', 'double'] }] }]);
    assert.ok((await Registry.load(dir)).get('widening'), 'numbers from narrowest to widest resolve to their own branch');
  });
});
