// Interop test: Python's fastavro, an independent Avro implementation, reads the container files we frame, with every codec.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainerWriter } from '../../services/wire/avro-container.ts';
import { CODEC_NAMES, compressBlock } from '../../services/wire/codecs.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';
import { TRACK_PLAYED_SCHEMA, trackPlayed, trackPlayedBody } from './fixtures.ts';

/** Reads each file named on the command line; prints codec, user metadata, records per block and the records, as JSON. */
const READ_WITH_FASTAVRO = `
import datetime, json, sys
import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

def plain(value):
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": value.hex()}
    raise TypeError(type(value))

files = []
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        reader = fastavro.reader(f)
        records = list(reader)
        meta = {k: v for k, v in reader.metadata.items() if not k.startswith("avro.")}
        codec = reader.codec
    with open(name, "rb") as f:
        blocks = [block.num_records for block in fastavro.block_reader(f)]
    files.append({"codec": codec, "meta": meta, "blocks": blocks, "records": records})
print(json.dumps(files, default=plain))
`;

interface FastavroFile {
  codec: string;
  meta: Record<string, string>;
  blocks: number[];
  records: unknown[];
}

/**
 * fastavro skips a snappy block's CRC without checking it, so this checks ours independently:
 * for each file of snappy block bodies, whether the CRC matches and the datums it holds.
 */
const CHECK_SNAPPY_CRC = `
import json, sys, zlib
from cramjam import snappy

out = []
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        body = f.read()
    data = bytes(snappy.decompress_raw(body[:-4]))
    out.append({"crcOk": zlib.crc32(data) == int.from_bytes(body[-4:], "big"), "hex": data.hex()})
print(json.dumps(out))
`;

describe('fastavro reads our container files', () => {
  let python: string;
  let dir: string;

  before(async () => {
    python = await ensurePythonVenv();
    dir = await mkdtemp(path.join(tmpdir(), 'hourglass-wire-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every codec: same records, same blocks, same metadata', async () => {
    const blockCounts = [5, 1, 200, 1000];
    const files: string[] = [];
    for (const codec of CODEC_NAMES) {
      const writer = new ContainerWriter({ schemaJson: JSON.stringify(TRACK_PLAYED_SCHEMA), codec, meta: { 'hourglass.window': '2024-01-01T10' } });
      let next = 0;
      for (const count of blockCounts) {
        writer.appendBlock(count, compressBlock(codec, trackPlayedBody(count, next)));
        next += count;
      }
      const file = path.join(dir, `track_played.${codec}.avro`);
      await writeFile(file, writer.toBuffer());
      files.push(file);
    }

    const read = JSON.parse(await runPythonScript(python, READ_WITH_FASTAVRO, files)) as FastavroFile[];

    const total = blockCounts.reduce((a, b) => a + b, 0);
    const expected = Array.from({ length: total }, (_, i) => trackPlayed(i));
    assert.equal(read.length, CODEC_NAMES.length);
    read.forEach((file, i) => {
      const codec = CODEC_NAMES[i]!;
      assert.equal(file.codec, codec);
      assert.deepEqual(file.meta, { 'hourglass.window': '2024-01-01T10' }, codec);
      assert.deepEqual(file.blocks, blockCounts, codec);
      assert.deepEqual(file.records, expected, codec);
    });
  });

  it('snappy: the CRC32 after each block is the one Python computes', async () => {
    const bodies = [trackPlayedBody(1), trackPlayedBody(300, 7)];
    const files = await Promise.all(
      bodies.map(async (body, i) => {
        const file = path.join(dir, `block-${i}.snappy`);
        await writeFile(file, compressBlock('snappy', body));
        return file;
      }),
    );
    const checked = JSON.parse(await runPythonScript(python, CHECK_SNAPPY_CRC, files)) as { crcOk: boolean; hex: string }[];
    assert.deepEqual(checked, bodies.map((body) => ({ crcOk: true, hex: body.toString('hex') })));
  });
});
