// Container-reader cases that used to loop forever, run by streaming.test.ts in a worker with a deadline.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContainerReader } from '../../services/wire/container-reader.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { ContainerWriter } from '../../services/wire/avro-container.ts';

/** Opens a small container file with the given chunkBytes; returns the error's name, or "opened". */
export async function openWithChunkBytes(chunkBytes: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-cli-chunk-'));
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    const file = new ContainerWriter({ schemaJson: '"long"', codec: 'null' }).toBuffer();
    await storage.put('t/part.avro', file);
    await ContainerReader.open(storage, 't/part.avro', file.length, { chunkBytes });
    return 'opened';
  } catch (err) {
    return (err as Error).name;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
