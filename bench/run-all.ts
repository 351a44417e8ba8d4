// Runs every benchmark of the project and prints one table (or, with --json, one {"name","value","unit"} object per line), with the machine it ran on.
//
// Run: bash scripts/bench.sh [--json] [--quick] [--only sdk-publish,close,…] [--out results.jsonl]   (npm run bench -- …)
// Each bench file exports run(options) → [{ name, value, unit }] and QUICK, its --quick options; this
// file imports the ones present, CPU-only ones first (while no emulator competes for the cores), then
// those that start the Pub/Sub emulator. A bench that fails (it throws; a "must be 0" figure that is not
// 0 is a failure) is reported with the figures it measured, the others still run, and the exit code is 1.
// The full run takes about 65 minutes (most of it the close benchmark's 20 windows of 10 s and 20 of
// 50 s, and reading back every event they closed; the table benchmark's 20 windows of 10 s without and
// with the Iceberg table committer, about 8 minutes; then the scale benchmark: 500 types and 1,000
// publishers with 1 and with 3 checker replicas, 5 to 11 minutes each on 2 cores); --quick about 10, with fewer
// types and fewer, shorter windows (its figures say so).
import { access, appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchFailure, nonZero, printable, type BenchResult } from './kit/results.ts';

interface BenchModule {
  run(options: Record<string, unknown>): readonly BenchResult[] | Promise<readonly BenchResult[]>;
  readonly QUICK?: Record<string, unknown>;
}

/** File names without .bench.ts, in running order. */
const BENCHES: readonly string[] = ['record-skipper', 'worker-core', 'checker-sim', 'sdk-publish', 'gateway', 'e2e', 'close', 'table', 'scale'];

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
    process.stderr.write(`unknown arguments: ${unknown.join(' ')}\nusage: bash scripts/bench.sh [--json] [--quick] [--only ${BENCHES.join(',')}] [--out results.jsonl]\n`);
    return 2;
  }

  const machine: BenchResult[] = [
    { name: 'machine_cpu_cores', value: os.cpus().length, unit: `cores: ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)} at start${quick ? ', --quick' : ''}` },
  ];
  if (outFile) await writeFile(outFile, '');
  const emit = async (r: BenchResult) => {
    const line = `${JSON.stringify(printable(r))}\n`;
    if (json) process.stdout.write(line);
    if (outFile) await appendFile(outFile, line);
  };
  for (const r of machine) await emit(r);
  const results: Array<{ bench: string; result: BenchResult }> = [];
  const failures: string[] = [];
  const started = Date.now();
  for (const bench of BENCHES) {
    if (only && !only.has(bench)) continue;
    const file = path.join(HERE, `${bench}.bench.ts`);
    if (!(await access(file).then(() => true, () => false))) {
      process.stderr.write(`bench: ${bench}.bench.ts is not here; skipped\n`);
      continue;
    }
    const benchStarted = Date.now();
    process.stderr.write(`bench: running ${bench}${quick ? ' (quick)' : ''}…\n`);
    let out: readonly BenchResult[] = [];
    let failure: string | undefined;
    try {
      const mod = (await import(file)) as BenchModule;
      out = await mod.run(quick ? (mod.QUICK ?? {}) : {});
      // A bench that forgot to check its own must-be-0 figures still fails the run.
      const bad = nonZero(out);
      if (bad.length > 0) failure = `${bad.map((r) => `${r.name} = ${r.value}`).join(', ')} (must be 0)`;
    } catch (err) {
      if (err instanceof BenchFailure) out = err.results;
      failure = (err as Error).stack ?? String(err);
    }
    for (const r of out) {
      results.push({ bench, result: r });
      await emit(r);
    }
    if (failure === undefined) process.stderr.write(`bench: ${bench} done in ${Math.round((Date.now() - benchStarted) / 1000)} s\n`);
    else {
      failures.push(`${bench}: ${failure}`);
      process.stderr.write(`bench: ${bench} FAILED after ${Math.round((Date.now() - benchStarted) / 1000)} s: ${failure.split('\n')[0]}\n`);
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
