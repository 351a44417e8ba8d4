// Decodes a batch message (attributes + block body) into delivered records, the way an independent consumer would.
import type { Registry } from '../../services/registry/registry.ts';
import { parseBatchAttributes, type BatchAttributes } from '../../services/wire/batch-attributes.ts';
import { decompressBlock } from '../../services/wire/codecs.ts';

export interface DecodedBatch {
  readonly attributes: BatchAttributes;
  readonly records: Array<Record<string, unknown>>;
}

export function decodeBatch(registry: Registry, data: Buffer, rawAttributes: Record<string, string>): DecodedBatch {
  const parsed = parseBatchAttributes(rawAttributes);
  if (!parsed.ok) throw new Error(`bad batch attributes: ${parsed.reason}`);
  const a = parsed.value;
  const type = registry.version(a.type, a.version).deliveredType;
  const body = decompressBlock(a.codec, data);
  const records: Array<Record<string, unknown>> = [];
  let pos = 0;
  for (let i = 0; i < a.count; i++) {
    const { value, offset } = type.decode(body, pos);
    if (offset < 0) throw new Error(`record ${i} truncated`);
    records.push(value as Record<string, unknown>);
    pos = offset;
  }
  if (pos !== body.length) throw new Error(`${body.length - pos} bytes left over after ${a.count} records`);
  return { attributes: a, records };
}
