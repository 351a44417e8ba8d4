// Runs every benchmark of the project and prints one table (or, with --json, one {"name","value","unit"} object per line), with the machine it ran on.
//
// Run: bash scripts/bench.sh [--json] [--quick] [--only sdk-publish,close,…] [--out results.jsonl]   (npm run bench -- …)
// Each bench file exports run(options) → [{ name, value, unit }]; this file imports the ones present,
// CPU-only ones first (while no emulator competes for the cores), then those that start the Pub/Sub
// emulator. A bench that fails is reported and the others still run; the exit code is then 1.
// The full run takes about 10 minutes (most of it the 300-second-window close benchmark); --quick
// about 3, with shorter rounds and 12 s / 60 s windows for the close benchmark.
import { access, appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

interface BenchSpec {
  /** File name without .bench.ts. */
  readonly file: string;
  readonly full: Record<string, unknown>;
  readonly quick: Record<string, unknown>;
}

/** In running order. The quick options mirror each bench's own --quick. */
const BENCHES: readonly BenchSpec[] = [
  { file: 'record-skipper', full: {}, quick: { rounds: 3, roundMs: 100 } },
  { file: 'worker-core', full: {}, quick: { messages: 100, rounds: 3 } },
  { file: 'checker-sim', full: {}, quick: { types: 100, publishers: 200 } },
  { file: 'sdk-publish', full: {}, quick: { publishSeconds: 8, warmupSeconds: 2, encodeRounds: 3, encodeEvents: 150_000 } },
  { file: 'gateway', full: {}, quick: { rounds: 1, roundMs: 2000 } },
  { file: 'e2e', full: {}, quick: { e2eSeconds: 12, ceilingSeconds: 8, warmupSeconds: 3 } },
  { file: 'close', full: {}, quick: { windowsS: [12, 60], measuredWindows: [3, 1], minLoadS: [9, 24], compactMessages: 100, compactRounds: 2 } },
];

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const quick = args.includes('--quick');
  const onlyAt = args.indexOf('--only');
  const outAt = args.indexOf('--out');
  const outFile = outAt >= 0 ? args[outAt + 1] : undefined;
  const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? '').split(',').filter(Boolean)) : undefined;
  const unknown = args.filter((a, i) => !['--json', '--quick', '--only', '--out'].includes(a) && !(onlyAt >= 0 && i === onlyAt + 1) && !(outAt >= 0 && i === outAt + 1));
  if (unknown.length > 0) {
    process.stderr.write(`unknown arguments: ${unknown.join(' ')}\nusage: bash scripts/bench.sh [--json] [--quick] [--only ${BENCHES.map((b) => b.file).join(',')}] [--out results.jsonl]\n`);
    return 2;
  }

  const machine: BenchResult[] = [
    { name: 'machine_cpu_cores', value: os.cpus().length, unit: `cores: ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)} at start${quick ? ', --quick' : ''}` },
  ];
  if (outFile) await writeFile(outFile, '');
  const emit = async (r: BenchResult) => {
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    if (outFile) await appendFile(outFile, `${JSON.stringify(r)}\n`);
  };
  for (const r of machine) await emit(r);
  const results: Array<{ bench: string; result: BenchResult }> = [];
  const failures: string[] = [];
  const started = Date.now();
  for (const spec of BENCHES) {
    if (only && !only.has(spec.file)) continue;
    const file = path.join(HERE, `${spec.file}.bench.ts`);
    if (!(await access(file).then(() => true, () => false))) {
      process.stderr.write(`bench: ${spec.file}.bench.ts is not here; skipped\n`);
      continue;
    }
    const benchStarted = Date.now();
    process.stderr.write(`bench: running ${spec.file}${quick ? ' (quick)' : ''}…\n`);
    try {
      const mod = (await import(file)) as { run: (o: Record<string, unknown>) => BenchResult[] | Promise<BenchResult[]> };
      const out = await mod.run(quick ? spec.quick : spec.full);
      for (const r of out) {
        results.push({ bench: spec.file, result: r });
        await emit(r);
      }
      process.stderr.write(`bench: ${spec.file} done in ${Math.round((Date.now() - benchStarted) / 1000)} s\n`);
    } catch (err) {
      failures.push(`${spec.file}: ${(err as Error).stack ?? String(err)}`);
      process.stderr.write(`bench: ${spec.file} FAILED: ${(err as Error).message}\n`);
    }
  }
  const totalS = Math.round((Date.now() - started) / 1000);
  if (!json) printTable(machine, results, totalS);
  for (const f of failures) process.stderr.write(`\n${f}\n`);
  return failures.length > 0 ? 1 : 0;
}

function printTable(machine: BenchResult[], results: Array<{ bench: string; result: BenchResult }>, totalS: number): void {
  const rows = results.map(({ bench, result }) => [bench, result.name, formatValue(result.value), result.unit]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['bench', 'name', 'value'][i]!.length));
  const line = (cells: string[]) => `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]!.padEnd(widths[1]!)}  ${cells[2]!.padStart(widths[2]!)}  ${cells[3]}`;
  console.log(`machine: ${machine[0]!.value} ${machine[0]!.unit}`);
  console.log(`total: ${totalS} s`);
  console.log(line(['bench', 'name', 'value', 'unit']));
  console.log(line(['-'.repeat(widths[0]!), '-'.repeat(widths[1]!), '-'.repeat(widths[2]!), '----']));
  for (const r of rows) console.log(line(r));
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return String(v);
}

// process.exit: some benches register node:test hooks (temp folders); exiting here keeps the test reporter off stdout.
process.exit(await main());
