// Rewrites a compacted part in a newer schema version (Avro schema resolution), for a window whose newest version arrived late.
import type { Registry } from '../registry/registry.ts';
import type { Storage } from '../storage/storage.ts';
import { ContainerWriter, parseContainer } from '../wire/avro-container.ts';
import { compressBlock, decompressBlock, type CodecName } from '../wire/codecs.ts';
import { sha256 } from './segments.ts';
import type { PartFile } from './window-compactor.ts';

export async function convertPart(
  storage: Storage,
  registry: Registry,
  o: { type: string; from: number; to: number; sourceKey: string; targetKey: string; codec: CodecName },
): Promise<PartFile> {
  const target = registry.version(o.type, o.to).deliveredType;
  const resolver = registry.resolver(o.type, o.from, o.to);
  const { header, blocks } = parseContainer(await storage.get(o.sourceKey));
  const writer = new ContainerWriter({ schemaJson: registry.version(o.type, o.to).deliveredSchemaJson, codec: o.codec, meta: header.meta });
  let events = 0;
  for (const block of blocks) {
    const datums = decompressBlock(header.codec, block.body);
    const out: Buffer[] = [];
    let pos = 0;
    for (let i = 0; i < block.count; i++) {
      const decoded = target.decode(datums, pos, resolver);
      if (decoded.offset < 0) throw new Error(`${o.sourceKey}: truncated record in the block at ${block.offset}`);
      pos = decoded.offset;
      out.push(target.toBuffer(decoded.value));
    }
    writer.appendBlock(block.count, compressBlock(o.codec, Buffer.concat(out)));
    events += block.count;
  }
  const bytes = writer.toBuffer();
  await storage.createOnly(o.targetKey, bytes);
  return { name: o.targetKey.slice(o.targetKey.lastIndexOf('/') + 1), key: o.targetKey, bytes: bytes.length, events, sha256: sha256(bytes) };
}
