// What a benchmark reports: figures as {name, value, unit}; a "must be 0" figure that is not 0 fails the benchmark (and the run).

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** A count of something that must never happen (a lost event, a failed publish): anything but 0 fails the run. */
  readonly mustBeZero?: boolean;
}

/** A figure that fails the benchmark when it is not 0. */
export function mustBeZero(name: string, value: number, unit: string): BenchResult {
  return { name, value, unit: `${unit} (must be 0)`, mustBeZero: true };
}

/** A benchmark that measured something it must not have: its figures are kept for the report, and the run fails. */
export class BenchFailure extends Error {
  readonly results: readonly BenchResult[];

  constructor(message: string, results: readonly BenchResult[]) {
    super(message);
    this.name = 'BenchFailure';
    this.results = results;
  }
}

/** The must-be-0 figures of `results` that are not 0. */
export function nonZero(results: readonly BenchResult[]): BenchResult[] {
  return results.filter((r) => r.mustBeZero === true && r.value !== 0);
}

/** Returns `results`, or throws a BenchFailure naming every must-be-0 figure that is not 0, with `details` (what was missing, where). */
export function requireZeros<T extends readonly BenchResult[]>(results: T, details: readonly string[] = []): T {
  const bad = nonZero(results);
  if (bad.length === 0) return results;
  const listed = bad.map((r) => `${r.name} = ${r.value}`).join(', ');
  throw new BenchFailure(`${listed} (must be 0)${details.length > 0 ? `\n  ${details.join('\n  ')}` : ''}`, results);
}

/** The figure as printed and written to --json / --out: name, value, unit. */
export function printable(r: BenchResult): { name: string; value: number; unit: string } {
  return { name: r.name, value: r.value, unit: r.unit };
}

/**
 * The entry of a bench file run on its own (`node bench/x.bench.ts [--json]`): prints the figures, those of
 * a BenchFailure too, then its message; exits 1 on a failure.
 */
export async function runStandalone(measure: () => Promise<readonly BenchResult[]> | readonly BenchResult[], json: boolean): Promise<never> {
  let results: readonly BenchResult[] = [];
  let failure: unknown;
  try {
    results = await measure();
  } catch (err) {
    failure = err;
    if (err instanceof BenchFailure) results = err.results;
  }
  const width = Math.max(0, ...results.map((r) => r.name.length));
  for (const r of results) console.log(json ? JSON.stringify(printable(r)) : `${r.name.padEnd(width)}  ${String(r.value).padStart(12)}  ${r.unit}`);
  if (failure !== undefined) process.stderr.write(`\nFAILED: ${(failure as Error).stack ?? String(failure)}\n`);
  process.exit(failure === undefined ? 0 : 1);
}
