// The table committer's conversion alone, as hour-commit.ts does it for each closed part: a track_played Avro part read block by block, its records decoded and written as one Parquet file by HourParquetWriter; events per CPU-second, and the Parquet file's size against the Avro part's.
//
// The part is synthetic but made as the pipeline makes closed parts: SDK-encoded 1000-event blocks
// (deflate, as the SDK sends them and the checker copies them) framed by the project's ContainerWriter.
// The Parquet file is read back by pyarrow (another implementation): its row count, the sum of its seqs
// and a field id on every column (Iceberg resolves columns by it).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { planSchema, type HourColumn } from '../../services/table/iceberg-schema.ts';
import { HourParquetWriter, type ParquetFile } from '../../services/table/parquet-writer.ts';
import { ContainerWriter } from '../../services/wire/avro-container.ts';
import { isCodecName } from '../../services/wire/codecs.ts';
import { ContainerReader } from '../../services/wire/container-reader.ts';
import { RecordDecoder } from '../../services/wire/record-decoder.ts';
import { BASE_RECEIVE_US, buildBatch } from '../../test/fixtures/worker-messages.ts';
import { TABLE_PYTHON_PACKAGES } from '../../test/helpers/iceberg-python.ts';
import { ensurePythonVenv, runPythonScript } from '../../test/helpers/python.ts';
import { median } from '../kit/stats.ts';

const BLOCK_RECORDS = 1000;
const PUBLISHERS = 4;

export interface ParquetThroughput {
  readonly records: number;
  /** Events per CPU-second: read, Avro decode and Parquet conversion (median of rounds). */
  readonly eventsPerCpuS: number;
  /** Events per CPU-second of the read and Avro decode alone (median of rounds). */
  readonly decodeEventsPerCpuS: number;
  readonly avroBytes: number;
  readonly parquetBytes: number;
}

const PYARROW_CHECK = String.raw`
import json, sys
import pyarrow.compute as pc
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
field_ids = [(fld.metadata or {}).get(b"PARQUET:field_id") for fld in t.schema]
print(json.dumps({"rows": f.metadata.num_rows, "seqSum": pc.sum(t.column("seq")).as_py(), "columns": len(field_ids), "withFieldId": sum(1 for x in field_ids if x is not None)}))
`;

/** A `records`-record track_played part (deflate), then `rounds` measured conversions after one warm-up; throws when a conversion or pyarrow's read of it miscounts. */
export async function parquetThroughput(registry: Registry, records: number, rounds: number): Promise<ParquetThroughput> {
  if (records % BLOCK_RECORDS !== 0) throw new RangeError(`records must be a multiple of ${BLOCK_RECORDS}, got ${records}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-parquet-'));
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    const schemaJson = registry.require('track_played').latest.deliveredSchemaJson;
    const part = new ContainerWriter({ schemaJson, codec: 'deflate' });
    let seqSum = 0;
    for (let m = 0; m < records / BLOCK_RECORDS; m++) {
      const firstSeq = Math.floor(m / PUBLISHERS) * BLOCK_RECORDS;
      const b = buildBatch(registry, { publisher: `pub-${m % PUBLISHERS}`, firstSeq, count: BLOCK_RECORDS, receiveUs: BASE_RECEIVE_US + m * BLOCK_RECORDS });
      part.appendBlock(BLOCK_RECORDS, b.data);
      seqSum += BLOCK_RECORDS * firstSeq + (BLOCK_RECORDS * (BLOCK_RECORDS - 1)) / 2;
    }
    const key = 'track_played/part-0.avro';
    await storage.put(key, part.toBuffer());
    const columns = planSchema(schemaJson, undefined, 0).columns;

    const convert = async (withParquet: boolean): Promise<{ cpuS: number; file: ParquetFile | undefined }> => {
      const cpu = process.cpuUsage();
      const file = await convertPart(storage, key, columns, withParquet);
      const used = process.cpuUsage(cpu);
      if (file && file.records !== records) throw new Error(`HourParquetWriter wrote ${file.records} records of a ${records}-record part`);
      return { cpuS: (used.user + used.system) / 1e6, file };
    };
    await convert(true); // warm-up: compile, JIT, page cache
    const full: number[] = [];
    const decode: number[] = [];
    let last: ParquetFile | undefined;
    for (let r = 0; r < rounds; r++) {
      const c = await convert(true);
      full.push(records / c.cpuS);
      last = c.file;
      decode.push(records / (await convert(false)).cpuS);
    }
    const parquetPath = path.join(dir, 'part-0.parquet');
    await writeFile(parquetPath, last!.bytes);
    const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
    const read = JSON.parse(await runPythonScript(python, PYARROW_CHECK, [parquetPath])) as { rows: number; seqSum: number; columns: number; withFieldId: number };
    if (read.rows !== records || read.seqSum !== seqSum) throw new Error(`pyarrow reads ${read.rows} rows with seqs summing to ${read.seqSum} from the Parquet file; the Avro part has ${records} records summing to ${seqSum}`);
    if (read.columns !== columns.length || read.withFieldId !== columns.length) throw new Error(`pyarrow reads ${read.columns} columns, ${read.withFieldId} with a field id; expected ${columns.length}, all with one`);
    return { records, eventsPerCpuS: median(full), decodeEventsPerCpuS: median(decode), avroBytes: part.byteLength, parquetBytes: last!.bytes.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What writeDataFile (hour-commit.ts) does with one part, minus the hash and the write: read, decode, and (withParquet) convert. */
async function convertPart(storage: LocalDirectoryStorage, key: string, columns: readonly HourColumn[], withParquet: boolean): Promise<ParquetFile | undefined> {
  const info = await storage.stat(key);
  const reader = await ContainerReader.open(storage, key, info!.size);
  const { schemaJson, codec } = reader.header;
  if (!isCodecName(codec)) throw new Error(`codec ${codec}`);
  const decoder = new RecordDecoder(schemaJson, codec);
  const writer = withParquet ? new HourParquetWriter(columns, { kvMetadata: { 'hourglass.window': 'bench', 'hourglass.source': key } }) : undefined;
  for await (const block of reader.blocks()) {
    const decoded = decoder.decodeBlock(block.body, block.count);
    writer?.add(decoded);
  }
  return writer?.finish();
}
