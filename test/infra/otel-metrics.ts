// The metrics the services export, read from their code, and the names Cloud Monitoring gives them.
//
// instruments(): every OpenTelemetry instrument a deployed service creates, found by a scan of the
// TypeScript each services/<service>/main.ts imports (transitively, relative imports only): calls
// `.create{Counter,UpDownCounter,Histogram,Gauge,ObservableCounter,ObservableUpDownCounter,ObservableGauge}(name, { unit })`
// whose name is a string literal, or a template `prefix${param}suffix` inside a local helper
// `const f = (param, …) => meter.createX(…)` whose calls `f('literal', …)` give the names. Anything
// else (a name from a variable, a helper called with a non-literal) throws: a name the scan cannot
// follow is a failure, never a metric silently left out.
//
// gmpMetricType(): the googlemanagedprometheus exporter's naming (add_metric_suffixes on, its default):
// prometheus.googleapis.com/<name>/<kind>, where <name> is otlptranslator's normalizeName
// (github.com/prometheus/otlptranslator, metric_namer.go; WithMetricSuffixes, no UTF-8):
//   - the instrument's name split on every character outside [a-zA-Z0-9:], tokens joined by "_";
//   - its unit's word appended unless already a token ("s" seconds, "ms" milliseconds, "By" bytes, …;
//     "1", "" and units in {braces} add nothing; "a/b" gives a_per_b);
//   - a monotonic counter: every "total" token dropped and "total" appended;
//   - a gauge of unit "1": every "ratio" token dropped and "ratio" appended;
// and <kind> is counter (monotonic sum), gauge (gauge, or non-monotonic sum: an up-down counter) or
// histogram (opentelemetry-operations-go, exporter/collector/googlemanagedprometheus/naming.go).

import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from './terraform-config.ts';

export type Kind = 'counter' | 'updowncounter' | 'histogram' | 'gauge';

export interface Instrument {
  /** The OpenTelemetry instrument name, e.g. hourglass.checker.close.delay. */
  readonly name: string;
  /** Its unit ("" when none). */
  readonly unit: string;
  readonly kind: Kind;
  /** Where it is created (repository-relative path:line). */
  readonly where: string;
}

/** The deployed services: their entry points, whose imports are what runs on Cloud Run. */
export const SERVICES = ['gateway', 'worker', 'checker'] as const;
export type Service = (typeof SERVICES)[number];

const CREATE = /\.create(Counter|UpDownCounter|Histogram|Gauge|ObservableCounter|ObservableUpDownCounter|ObservableGauge)\s*\(/g;

const KIND: Readonly<Record<string, Kind>> = {
  Counter: 'counter',
  ObservableCounter: 'counter',
  UpDownCounter: 'updowncounter',
  ObservableUpDownCounter: 'updowncounter',
  Histogram: 'histogram',
  Gauge: 'gauge',
  ObservableGauge: 'gauge',
};

/** `src` with comments blanked (same length, so offsets and line numbers hold); strings and templates kept. */
export function stripComments(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; ) {
    const c = src[i]!;
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      const end = stringEnd(src, i);
      out += src.slice(i, end);
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The offset just past the string or template starting at `start` (templates may nest `${…}`). */
function stringEnd(src: string, start: number): number {
  const q = src[start];
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (c === q) return i + 1;
    else if (q === '`' && c === '$' && src[i + 1] === '{') i = balanced(src, i + 1, '{', '}');
    else i++;
  }
  throw new Error(`unterminated string at offset ${start}`);
}

/** The offset just past the bracket closing the one at `open`, skipping strings. */
function balanced(src: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let i = open; i < src.length; ) {
    const ch = src[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      i = stringEnd(src, i);
      continue;
    }
    if (ch === o) depth++;
    else if (ch === c && --depth === 0) return i + 1;
    i++;
  }
  throw new Error(`unbalanced ${o} at offset ${open}`);
}

/** The top-level, comma-separated arguments of a call whose "(" is at `open`, trimmed. */
function callArgs(src: string, open: number): string[] {
  const end = balanced(src, open, '(', ')') - 1;
  const args: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open + 1; i < end; ) {
    const ch = src[i]!;
    if (ch === '"' || ch === "'" || ch === '`') {
      i = stringEnd(src, i);
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) {
      args.push(src.slice(from, i).trim());
      from = i + 1;
    }
    i++;
  }
  const last = src.slice(from, end).trim();
  if (last !== '') args.push(last);
  return args;
}

/** The value of a plain string literal ('…', "…" or `…` without ${}), or undefined. */
function literal(expr: string | undefined): string | undefined {
  if (expr === undefined) return undefined;
  const m = /^(['"`])((?:(?!\1)[^\\$]|\\.)*)\1$/.exec(expr.trim());
  return m ? m[2]!.replace(/\\(.)/g, '$1') : undefined;
}

/** How the options object names the unit: a literal, a reference to a helper parameter, or none. */
function unitOf(options: string | undefined): { literal: string } | { param: string } {
  if (options === undefined) return { literal: '' };
  const lit = /(?:^|[{,\s])unit\s*:\s*(['"])([^'"]*)\1/.exec(options);
  if (lit) return { literal: lit[2]! };
  const ref = /(?:^|[{,\s])unit\s*:\s*([A-Za-z_$][\w$]*)/.exec(options);
  if (ref) return { param: ref[1]! };
  if (/(?:^|[{,\s])unit\s*(?=[,}])/.test(options)) return { param: 'unit' };
  if (/\bunit\b/.test(options)) throw new Error(`cannot read the unit in ${options}`);
  return { literal: '' };
}

interface Param {
  readonly name: string;
  readonly default: string | undefined;
}

/** `(a: string, b = '1', c: T)` → names and default literals. */
function params(list: string): Param[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const m = /^([A-Za-z_$][\w$]*)\s*(?::[^=]*)?(?:=\s*(.*))?$/s.exec(p);
      if (!m) throw new Error(`cannot read parameter ${p}`);
      return { name: m[1]!, default: m[2] === undefined ? undefined : literal(m[2]) };
    });
}

const lineAt = (src: string, offset: number) => src.slice(0, offset).split('\n').length;

/** The instruments created in one file's source (comments already stripped or not). */
export function instrumentsIn(source: string, file: string): Instrument[] {
  const src = stripComments(source);
  const out: Instrument[] = [];
  for (const m of src.matchAll(CREATE)) {
    const open = m.index! + m[0].length - 1;
    const where = `${file}:${lineAt(src, m.index!)}`;
    const kind = KIND[m[1]!]!;
    const [nameArg, options] = callArgs(src, open);
    const unit = unitOf(options);
    const name = literal(nameArg);
    if (name !== undefined) {
      if (!('literal' in unit)) throw new Error(`${where}: unit ${unit.param} is not a literal outside a helper`);
      out.push({ name, unit: unit.literal, kind, where });
      continue;
    }
    // A helper: `const f = (param, …) => …createX(`prefix${param}suffix`, …)`.
    const tpl = nameArg === undefined ? null : /^`([^`$]*)\$\{\s*([A-Za-z_$][\w$]*)\s*\}([^`$]*)`$/.exec(nameArg);
    if (!tpl) throw new Error(`${where}: the instrument's name ${nameArg ?? '(none)'} is neither a literal nor \`prefix\${param}\` in a helper`);
    const [, prefix, param, suffix] = tpl;
    const helpers = [...src.slice(0, m.index).matchAll(/\bconst\s+([A-Za-z_$][\w$]*)\s*=\s*\(([^)]*)\)\s*(?::[^=>]*)?=>/g)];
    const helper = helpers.reverse().find((h) => params(h[2]!).some((p) => p.name === param));
    if (!helper) throw new Error(`${where}: no helper \`const f = (${param}, …) =>\` around this call`);
    const ps = params(helper[2]!);
    const nameIndex = ps.findIndex((p) => p.name === param);
    const unitIndex = 'param' in unit ? ps.findIndex((p) => p.name === unit.param) : -1;
    if ('param' in unit && unitIndex < 0) throw new Error(`${where}: unit ${unit.param} is no parameter of ${helper[1]}`);
    const calls = [...src.matchAll(new RegExp(`(?<![\\w$.])${helper[1]!.replace(/\$/g, '\\$')}\\s*\\(`, 'g'))].filter((c) => c.index !== helper.index! + helper[0].indexOf(helper[1]!));
    if (calls.length === 0) throw new Error(`${where}: helper ${helper[1]} is never called`);
    for (const c of calls) {
      const callWhere = `${file}:${lineAt(src, c.index!)}`;
      const args = callArgs(src, c.index! + c[0].length - 1);
      const part = literal(args[nameIndex]);
      if (part === undefined) throw new Error(`${callWhere}: ${helper[1]}(…) is called with a name that is not a literal: ${args[nameIndex]}`);
      let u: string;
      if ('literal' in unit) u = unit.literal;
      else {
        const given = args[unitIndex];
        const value = given === undefined ? ps[unitIndex]!.default : literal(given);
        if (value === undefined) throw new Error(`${callWhere}: ${helper[1]}(…) gives no literal unit (${given ?? 'no argument, no default'})`);
        u = value;
      }
      out.push({ name: `${prefix}${part}${suffix}`, unit: u, kind, where: callWhere });
    }
  }
  return out;
}

/** Every .ts file a service's main.ts reaches through relative imports (static or dynamic). */
export function serviceFiles(service: Service, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const seen = new Set<string>();
  const todo = [join(REPO, 'services', service, 'main.ts')];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = stripComments(read(file));
    for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) {
      const target = resolve(dirname(file), m[2]!);
      if (target.endsWith('.ts')) todo.push(target);
    }
  }
  return [...seen].sort();
}

/** The instruments of each deployed service (the SDK's among the gateway's: it publishes through it). */
export function instrumentsByService(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): Map<Service, Instrument[]> {
  return new Map(SERVICES.map((s) => [s, serviceFiles(s, read).flatMap((f) => instrumentsIn(read(f), relative(REPO, f)))]));
}

const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes', KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '1': '', '%': 'percent',
};
const PER_UNIT_WORDS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

const cleanUnit = (u: string) => u.replace(/[^a-zA-Z0-9:]/g, '_').replace(/_+/g, '_').replace(/^_/, '');

/** The Prometheus name of an instrument (otlptranslator normalizeName, with suffixes). */
export function promName(i: Pick<Instrument, 'name' | 'unit' | 'kind'>): string {
  let tokens = i.name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
  const [mainOTel, perOTel] = i.unit.split(/\/(.*)/s, 2).map((t) => t?.trim());
  let main = mainOTel && !/[{}]/.test(mainOTel) ? cleanUnit(UNIT_WORDS[mainOTel] ?? mainOTel) : '';
  let per = perOTel && !/[{}]/.test(perOTel) ? cleanUnit(`per_${PER_UNIT_WORDS[perOTel] ?? perOTel}`) : '';
  if (tokens.includes(main)) main = '';
  if (per === 'per_') per = '';
  else {
    per = per.replace(/_$/, '');
    if (tokens.includes(per)) per = '';
  }
  if (per !== '') main = main.replace(/_$/, '');
  if (main !== '') tokens.push(main);
  if (per !== '') tokens.push(per);
  if (i.kind === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (i.unit === '1' && i.kind === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  const name = tokens.join('_');
  return /^\d/.test(name) ? `_${name}` : name;
}

/** The metric type Managed Service for Prometheus stores an instrument as. */
export function gmpMetricType(i: Pick<Instrument, 'name' | 'unit' | 'kind'>): string {
  const kind = i.kind === 'counter' ? 'counter' : i.kind === 'histogram' ? 'histogram' : 'gauge';
  return `prometheus.googleapis.com/${promName(i)}/${kind}`;
}

/** metric type → the services that produce it. */
export function producedMetricTypes(byService: ReadonlyMap<Service, readonly Instrument[]>): Map<string, Set<Service>> {
  const out = new Map<string, Set<Service>>();
  for (const [service, list] of byService) {
    for (const i of list) {
      const t = gmpMetricType(i);
      if (!out.has(t)) out.set(t, new Set());
      out.get(t)!.add(service);
    }
  }
  return out;
}
