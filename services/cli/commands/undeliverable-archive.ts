// Reads the Avro files Pub/Sub's Cloud Storage subscription writes under deadletter/<type>/undeliverable/: one record per message Pub/Sub gave up delivering.
//
// The dead-letter archive subscription (infra/modules/hourglass/pubsub.tf) sets
// `avro_config { write_metadata = true }`. Google's reference for that flag
// (https://cloud.google.com/python/docs/reference/pubsub/latest/google.cloud.pubsub_v1.types.CloudStorageConfig.AvroConfig,
// and the file-format section of https://cloud.google.com/pubsub/docs/cloudstorage) says each record then
// holds, beside `data` (the message bytes), `subscription_name`, `message_id` and `publish_time` in fields of
// their own and `attributes` as a map, into which every other message property (an ordering key, say) is
// folded. As a schema (the field list is Google's; the types are our reading of that page, which the
// stored copies we could search did not show in full, so nothing below depends on them beyond `data`
// being bytes and `attributes` a map of strings):
//
//   { "type": "record", "fields": [
//       { "name": "subscription_name", "type": "string" },
//       { "name": "message_id",        "type": "string" },
//       { "name": "publish_time",      "type": { "type": "long", "logicalType": "timestamp-micros" } },
//       { "name": "attributes",        "type": { "type": "map", "values": "string" } },
//       { "name": "data",              "type": "bytes" } ] }
//
// An Avro file carries its writer's schema, so records are decoded with the schema in each file's header
// (avsc), never with this one: the record's name, the field order, extra fields or nullable unions do not
// matter. What a redrive needs is `data` and `attributes`; a file without `attributes` (written with
// write_metadata off) cannot give a message back its attributes and is refused with that reason.
// `message_id` names the redrive marker; `publish_time` (when Pub/Sub dead-lettered the message) selects by time.
import type { Storage } from '../../storage/storage.ts';
import { ContainerReader } from '../../wire/container-reader.ts';
import { RecordDecoder } from '../../wire/record-decoder.ts';

/** One message of an archive file. */
export interface ArchivedMessage {
  /** Its position in the file, from 0: names the message when the file has no message_id. */
  readonly index: number;
  readonly messageId: string | undefined;
  /** When Pub/Sub published it to the dead-letter topic (ms since the epoch), if the file says. */
  readonly publishTimeMs: number | undefined;
  readonly subscriptionName: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
  readonly data: Buffer;
}

/** The file is not an archive a redrive can use (not Avro, no `data` or `attributes`, a corrupt block). */
export class UnreadableArchiveError extends Error {
  constructor(key: string, why: string) {
    super(`${key}: ${why}`);
    this.name = 'UnreadableArchiveError';
  }
}

/** `long` is taken as µs (timestamp-micros, or no logical type); a long marked timestamp-millis as ms. */
type FieldKind = 'bytes' | 'string' | 'long' | 'long-millis' | 'map-of-string';

/** Every message of the archive file `key` (of `size` bytes), in file order, one block in memory at a time. */
export async function* readUndeliverableArchive(storage: Storage, key: string, size: number): AsyncGenerator<ArchivedMessage> {
  let reader: ContainerReader;
  try {
    reader = await ContainerReader.open(storage, key, size);
  } catch (err) {
    throw new UnreadableArchiveError(key, `not an Avro container file: ${(err as Error).message}`);
  }
  const { codec, schemaJson } = reader.header;
  let schema: unknown;
  let decoder: RecordDecoder;
  try {
    schema = JSON.parse(schemaJson);
    decoder = new RecordDecoder(schemaJson, codec);
  } catch (err) {
    throw new UnreadableArchiveError(key, `its header holds no valid Avro schema: ${(err as Error).message}`);
  }
  const fields = recordFields(key, schema);
  if (fields.get('data') !== 'bytes') throw new UnreadableArchiveError(key, 'its records have no "data" field of type bytes: not a Pub/Sub Cloud Storage subscription file');
  if (fields.get('attributes') !== 'map-of-string') {
    throw new UnreadableArchiveError(key, 'its records have no "attributes" map: written without write_metadata, so its messages cannot get their attributes back');
  }
  let index = 0;
  try {
    for await (const block of reader.blocks()) {
      for (const value of decoder.decodeBlock(block.body, block.count)) {
        const r = value as Record<string, unknown>;
        const attributes = r.attributes as Record<string, string> | null;
        const publishKind = fields.get('publish_time');
        const publishTime = publishKind === 'long' || publishKind === 'long-millis' ? (r.publish_time as number | null) : null;
        yield {
          index: index++,
          messageId: fields.get('message_id') === 'string' ? ((r.message_id as string | null) ?? undefined) : undefined,
          publishTimeMs: publishTime === null ? undefined : publishKind === 'long-millis' ? publishTime : Math.floor(publishTime / 1000),
          subscriptionName: fields.get('subscription_name') === 'string' ? ((r.subscription_name as string | null) ?? undefined) : undefined,
          attributes: attributes ?? {},
          data: (r.data as Buffer | null) ?? Buffer.alloc(0),
        };
      }
    }
  } catch (err) {
    throw new UnreadableArchiveError(key, `after ${index} message(s): ${(err as Error).message}`);
  }
}

/** The fields of a record schema whose types a redrive understands, by name (a union with null counts as its other branch). */
function recordFields(key: string, schema: unknown): Map<string, FieldKind> {
  const record = schema as { type?: unknown; fields?: unknown };
  if (record?.type !== 'record' || !Array.isArray(record.fields)) throw new UnreadableArchiveError(key, 'its schema is not a record');
  const out = new Map<string, FieldKind>();
  for (const field of record.fields as Array<{ name?: unknown; type?: unknown }>) {
    const kind = kindOf(field.type);
    if (typeof field.name === 'string' && kind !== undefined) out.set(field.name, kind);
  }
  return out;
}

function kindOf(type: unknown): FieldKind | undefined {
  if (Array.isArray(type)) {
    const others = type.filter((t) => t !== 'null' && (t as { type?: unknown })?.type !== 'null');
    return others.length === 1 ? kindOf(others[0]) : undefined;
  }
  if (type === 'bytes' || type === 'string' || type === 'long') return type;
  const complex = type as { type?: unknown; values?: unknown };
  if (complex?.type === 'map' && (complex.values === 'string' || (complex.values as { type?: unknown })?.type === 'string')) return 'map-of-string';
  if (complex?.type === 'long' && (complex as { logicalType?: unknown }).logicalType === 'timestamp-millis') return 'long-millis';
  if (complex?.type === 'bytes' || complex?.type === 'string' || complex?.type === 'long') return complex.type;
  return undefined;
}
