// Benchmark: how fast the worker can prove a block holds its records (record-skipper.ts), with and without decompression, against avsc's own decoding.
//
// Run: node_modules/.bin/node bench/record-skipper.bench.ts [--json] [--quick]
// The absolute numbers depend on the machine and what else runs on it; the ratios against avsc,
// measured in interleaved rounds so that noise hits every case alike, are what to compare.
import avro from 'avsc';
import { compressBlock, decompressBlock, type CodecName } from '../services/wire/codecs.ts';
import { compileSkipper, proveRecordCount } from '../services/wire/record-skipper.ts';
import { TRACK_PLAYED_SCHEMA, trackPlayedBody } from '../test/wire/fixtures.ts';
import { runStandalone, type BenchResult } from './kit/results.ts';
import { median, round } from './kit/stats.ts';

export interface BenchOptions {
  /** Records per block, as one Pub/Sub message would carry. Default: 1000 (about 100 KB). */
  recordsPerBlock?: number;
  /** Interleaved rounds; each case's median is reported. Default: 7. */
  rounds?: number;
  /** Time per case per round, in ms. Default: 300. */
  roundMs?: number;
}

interface Case {
  name: string;
  label: string;
  /** Processes one block; returns how many records it handled. */
  once: () => number;
}

export function run(options: BenchOptions = {}): BenchResult[] {
  const recordsPerBlock = options.recordsPerBlock ?? 1000;
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 300;

  const body = trackPlayedBody(recordsPerBlock);
  const type = avro.Type.forSchema(TRACK_PLAYED_SCHEMA as unknown as avro.Schema);
  const skipper = compileSkipper(TRACK_PLAYED_SCHEMA);
  const skipperNoUtf8 = compileSkipper(TRACK_PLAYED_SCHEMA, { validateUtf8: false });
  const compressed: Record<CodecName, Buffer> = {
    null: body,
    deflate: compressBlock('deflate', body),
    zstandard: compressBlock('zstandard', body),
    snappy: compressBlock('snappy', body),
  };

  const prove = (s: typeof skipper, datums: Buffer): number => {
    if (!proveRecordCount(s, datums, recordsPerBlock).ok) throw new Error('benchmark body failed its proof');
    return recordsPerBlock;
  };
  const decodeAll = (datums: Buffer): number => {
    let n = 0;
    for (let pos = 0; pos < datums.length; n++) pos = type.decode(datums, pos).offset;
    return n;
  };

  const cases: Case[] = [
    { name: 'skip', label: 'prove count, decompressed body', once: () => prove(skipper, body) },
    { name: 'skip_no_utf8', label: 'prove count, no UTF-8 check', once: () => prove(skipperNoUtf8, body) },
    { name: 'avsc_decode', label: 'avsc decode, decompressed body', once: () => decodeAll(body) },
    { name: 'deflate_skip', label: 'inflate + prove count', once: () => prove(skipper, decompressBlock('deflate', compressed.deflate)) },
    { name: 'deflate_avsc_decode', label: 'inflate + avsc decode', once: () => decodeAll(decompressBlock('deflate', compressed.deflate)) },
    { name: 'zstandard_skip', label: 'zstd decompress + prove count', once: () => prove(skipper, decompressBlock('zstandard', compressed.zstandard)) },
    { name: 'snappy_skip', label: 'snappy decompress + prove count', once: () => prove(skipper, decompressBlock('snappy', compressed.snappy)) },
  ];

  // Warm up every case so that each runs optimised code before it is measured.
  for (const c of cases) measure(c, Math.min(roundMs, 200));
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) samples.get(c.name)!.push(measure(c, roundMs));
  }
  const rate = (name: string) => median(samples.get(name)!);

  const results: BenchResult[] = [
    { name: 'record-skipper.record_bytes', value: round(body.length / recordsPerBlock, 1), unit: 'bytes' },
    ...(['deflate', 'zstandard', 'snappy'] as const).map((codec) => ({
      name: `record-skipper.${codec}_ratio`,
      value: round(body.length / compressed[codec].length, 2),
      unit: 'x smaller',
    })),
    ...cases.map((c) => ({ name: `record-skipper.${c.name}`, value: Math.round(rate(c.name)), unit: `records/s (median of ${rounds} interleaved rounds)` })),
    { name: 'record-skipper.skip_vs_avsc_decode', value: round(rate('skip') / rate('avsc_decode'), 2), unit: 'x' },
    { name: 'record-skipper.deflate_skip_vs_avsc_decode', value: round(rate('deflate_skip') / rate('deflate_avsc_decode'), 2), unit: 'x' },
  ];
  return results;
}

/** Records per second for one case over about `ms` milliseconds. */
function measure(c: Case, ms: number): number {
  let records = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    for (let i = 0; i < 10; i++) records += c.once();
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return records / (elapsed / 1000);
}

export const QUICK: BenchOptions = { rounds: 3, roundMs: 100 };

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  await runStandalone(() => run(args.has('--quick') ? QUICK : {}), args.has('--json'));
}
