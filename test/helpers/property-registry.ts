// Test helper: a registry for the encoding property tests: the shipped event types plus "everything", whose payload uses every Avro type.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SCHEMAS_DIR, Registry } from '../../services/registry/registry.ts';
import { EVERYTHING_SCHEMA } from '../wire/fixtures.ts';

/** A producer schema with every Avro type, nested and in unions; logical types are left to the validity tests. */
export const EVERYTHING_PAYLOAD_SCHEMA = {
  ...EVERYTHING_SCHEMA,
  fields: EVERYTHING_SCHEMA.fields.filter((f) => !(typeof f.type === 'object' && 'logicalType' in f.type)),
};

/** Loads the registry from a temporary copy of the schemas folder with "everything" added; `dispose` removes the copy. */
export async function loadPropertyRegistry(): Promise<{ registry: Registry; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-property-schemas-'));
  try {
    await cp(DEFAULT_SCHEMAS_DIR, dir, { recursive: true });
    await mkdir(path.join(dir, 'everything'));
    await writeFile(path.join(dir, 'everything', 'type.json'), await readFile(path.join(DEFAULT_SCHEMAS_DIR, 'search_performed', 'type.json')));
    await writeFile(path.join(dir, 'everything', 'v1.avsc'), JSON.stringify(EVERYTHING_PAYLOAD_SCHEMA));
    return { registry: await Registry.load(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
