// Reads the Prometheus text format of /metrics in tests: samples by name and labels, summed.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Every sample line of `text` (comments skipped). Label values are unescaped for \\, \" and \n. */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include every pair of `where` (0 when there is none). */
export function sampleSum(text: string, name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of parseSamples(text)) {
    if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Whether some sample is named `name` (with labels including `where`). */
export function hasSample(text: string, name: string, where: Record<string, string> = {}): boolean {
  return parseSamples(text).some((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}
