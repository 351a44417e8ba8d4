// A registry of N synthetic event types (copies of search_performed) in a temp folder, also split into chunks: each chunk is a registry of its own, so their topics can be provisioned in parallel.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SCHEMAS_DIR, Registry } from '../../services/registry/registry.ts';

export interface SyntheticRegistry {
  /** The folder of every type (HOURGLASS_SCHEMAS_DIR of the services). */
  readonly dir: string;
  readonly registry: Registry;
  readonly types: readonly string[];
  /** The same types in `chunks` registries of their own. */
  readonly chunks: readonly Registry[];
  remove(): Promise<void>;
}

/** The shipped type copied: its schema and its type.json (owner, liveness timeout, max wait) as they are. */
const TEMPLATE = 'search_performed';

export async function syntheticRegistry(count: number, chunks: number): Promise<SyntheticRegistry> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hg-scale-schemas-'));
  try {
    const schema = await readFile(path.join(DEFAULT_SCHEMAS_DIR, TEMPLATE, 'v1.avsc'), 'utf8');
    const config = await readFile(path.join(DEFAULT_SCHEMAS_DIR, TEMPLATE, 'type.json'), 'utf8');
    const types = Array.from({ length: count }, (_, i) => `scale_type_${String(i).padStart(4, '0')}`);
    const chunkCount = Math.max(1, Math.min(chunks, count));
    const write = async (dir: string, type: string) => {
      await mkdir(path.join(dir, type), { recursive: true });
      await writeFile(path.join(dir, type, 'v1.avsc'), schema);
      await writeFile(path.join(dir, type, 'type.json'), config);
    };
    const all = path.join(root, 'all');
    for (const [i, type] of types.entries()) {
      await write(all, type);
      await write(path.join(root, `chunk-${i % chunkCount}`), type);
    }
    return {
      dir: all,
      registry: await Registry.load(all),
      types,
      chunks: await Promise.all(Array.from({ length: chunkCount }, (_, c) => Registry.load(path.join(root, `chunk-${c}`)))),
      remove: () => rm(root, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
