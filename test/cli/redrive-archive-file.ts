// Test helper: writes a file as Pub/Sub's Cloud Storage subscription does with write_metadata (see services/cli/commands/undeliverable-archive.ts), with avsc's own container encoder, and reads one back with fastavro.
//
// Written with avsc's BlockEncoder, not with hourglass's container code, so the reader under test
// meets a file it did not write; fastavro then says how an independent reader sees the same bytes.
import zlib from 'node:zlib';
import avro from 'avsc';
import { compressBlock } from '../../services/wire/codecs.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';

/** The record schema of a Cloud Storage subscription's Avro file with write_metadata on. */
export const ARCHIVE_SCHEMA = {
  type: 'record',
  name: 'PubsubMessage',
  fields: [
    { name: 'subscription_name', type: 'string' },
    { name: 'message_id', type: 'string' },
    { name: 'publish_time', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'attributes', type: { type: 'map', values: 'string' } },
    { name: 'data', type: 'bytes' },
  ],
} as const;

export interface ArchiveRecord {
  readonly subscription_name: string;
  readonly message_id: string;
  /** µs since the epoch. */
  readonly publish_time: number;
  readonly attributes: Record<string, string>;
  readonly data: Buffer;
}

export type ArchiveCodec = 'null' | 'deflate' | 'snappy' | 'zstandard';

/** The bytes of an Avro container file holding `records`, in blocks of about `blockBytes`. */
export async function encodeArchive(records: readonly ArchiveRecord[], codec: ArchiveCodec = 'deflate', blockBytes = 64 * 1024): Promise<Buffer> {
  // Given codecs replace avsc's own, so null and deflate (raw deflate, as the spec says) are named too; snappy
  // and zstandard as the spec defines them (codecs.ts is spec-exact and checked against fastavro elsewhere).
  const codecs = {
    null: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, buf),
    deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => zlib.deflateRaw(buf, cb),
    snappy: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, compressBlock('snappy', buf)),
    zstandard: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, compressBlock('zstandard', buf)),
  };
  // The schema itself, not a Type: avsc then writes it to the header whole, logicalType included.
  const encoder = new avro.streams.BlockEncoder(ARCHIVE_SCHEMA as unknown as avro.Schema, { codec, codecs, blockSize: blockBytes } as unknown as ConstructorParameters<typeof avro.streams.BlockEncoder>[1]);
  const chunks: Buffer[] = [];
  encoder.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    encoder.on('end', resolve);
    encoder.on('error', reject);
  });
  for (const r of records) encoder.write(r);
  encoder.end();
  await ended;
  return Buffer.concat(chunks);
}

/** What fastavro reads from each file: one list of records per file, publish_time back in µs, data in base64. */
export async function readArchivesWithFastavro(paths: readonly string[]): Promise<Array<Array<Omit<ArchiveRecord, 'data'> & { data: string }>>> {
  if (paths.length === 0) return [];
  const python = await ensurePythonVenv();
  const script = `
import sys, json, base64, datetime, fastavro
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
out = []
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        rows = []
        for r in fastavro.reader(f):
            r['publish_time'] = (r['publish_time'] - EPOCH) // datetime.timedelta(microseconds=1)
            r['data'] = base64.b64encode(r['data']).decode()
            rows.append(r)
        out.append(rows)
print(json.dumps(out))
`;
  return JSON.parse(await runPythonScript(python, script, paths)) as Array<Array<Omit<ArchiveRecord, 'data'> & { data: string }>>;
}
