// Describes late part files already in the late area (written before a crash cut off their manifest), as the manifest would have.
import type { Registry } from '../registry/registry.ts';
import type { Storage } from '../storage/storage.ts';
import { parseContainer } from '../wire/avro-container.ts';
import { decompressBlock } from '../wire/codecs.ts';
import { sha256 } from './segments.ts';
import type { PartFile } from './window-compactor.ts';
import { runsOf, WindowedRuns } from './windowed-runs.ts';

export interface DescribedParts {
  readonly files: PartFile[];
  readonly events: number;
  /** Seqs held, per publisher. */
  readonly written: Map<string, WindowedRuns>;
}

/** Reads each part (written in `version` of `type`) and returns its size, checksum, record count and seqs per publisher. */
export async function describeParts(storage: Storage, registry: Registry, type: string, version: number, window: number, keys: readonly string[]): Promise<DescribedParts> {
  const recordType = registry.version(type, version).deliveredType;
  const files: PartFile[] = [];
  const written = new Map<string, WindowedRuns>();
  let events = 0;
  for (const key of keys) {
    const bytes = await storage.get(key);
    const { header, blocks } = parseContainer(bytes);
    let count = 0;
    for (const block of blocks) {
      const datums = decompressBlock(header.codec, block.body);
      let pos = 0;
      for (let i = 0; i < block.count; i++) {
        const decoded = recordType.decode(datums, pos);
        if (decoded.offset < 0) throw new Error(`${key}: truncated record in the block at ${block.offset}`);
        pos = decoded.offset;
        const { publisher, seq } = decoded.value as { publisher: string; seq: number | bigint };
        runsOf(written, publisher).add(Number(seq), Number(seq) + 1, window, window);
      }
      count += block.count;
    }
    files.push({ name: key.slice(key.lastIndexOf('/') + 1), key, bytes: bytes.length, events: count, sha256: sha256(bytes) });
    events += count;
  }
  return { files, events, written };
}
