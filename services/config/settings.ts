// The configuration schema of a service: each setting's environment variables, flag, unit, default, allowed range and meaning in one place, parsed with zod; every problem reported at once.
//
// A service declares its settings once (services/<service>/<service>-options.ts) and resolves them with
// resolveSettings: an explicit value (code), then a flag, then the first environment variable that is set
// (blank counts as unset), then the default. Every value, whatever its source, goes through the same zod
// schema, and a refused one is named with the variable (or flag), the value and the allowed range. The
// README's configuration table is generated from the same declarations (scripts/config-table.ts).
import { z } from 'zod';
import { HourglassError } from '../errors/catalogue.ts';
import type { SettingKind } from './setting-kinds.ts';

/** Where a value came from, as a problem names it. */
type Source = { readonly kind: 'code' | 'flag' | 'env'; readonly name: string };

export interface Setting<T> {
  /** What the setting does, one sentence or two: the table's "meaning" column. */
  readonly doc: string;
  /** How a value is parsed and checked, and the allowed range in words. */
  readonly kind: SettingKind<T>;
  /** Environment variables, the first set one wins (e.g. HOURGLASS_PORT, then Cloud Run's PORT). None: not configurable from the environment. */
  readonly env?: readonly string[];
  /** Command-line flag (without --), for the commands that take flags. */
  readonly flag?: string;
  /** The value when nothing sets it; a function sees the settings resolved before this one (declaration order). Absent: unset (undefined). */
  readonly default?: T | ((resolved: Readonly<Record<string, unknown>>) => T | undefined);
  /** How the table shows the default when it is computed (e.g. "127.0.0.1 in local mode, 0.0.0.0 in cloud mode"). */
  readonly defaultText?: string;
  /** A secret: its value is never echoed in a problem. */
  readonly secret?: boolean;
}

/** A service's settings, by option name. */
export type SettingsSpec = Readonly<Record<string, Setting<unknown>>>;

/** The resolved values of a spec (undefined where a setting without default is unset). */
export type Resolved<S extends SettingsSpec> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export interface ResolveInput<S extends SettingsSpec> {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values as parsed by node:util parseArgs (strings). */
  readonly flags?: Readonly<Record<string, string | boolean | undefined>>;
  /** Explicit values from code (tests, embedding): they win, and are checked like the rest. */
  readonly overrides?: { readonly [K in keyof S]?: Resolved<S>[K] };
  /** Cross-setting rules, run once every setting parsed: each returned string is a problem. */
  readonly check?: (resolved: Resolved<S>) => readonly string[];
}

/** Defines a setting (the identity, for type inference). */
export function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** Defines a spec (the identity, for type inference). */
export function settings<S extends SettingsSpec>(spec: S): S {
  return spec;
}

/** Resolves every setting of `spec`; throws HG_CONFIG_INVALID ("<service> configuration: …") listing every problem, in details.problems. */
export function resolveSettings<S extends SettingsSpec>(service: string, spec: S, input: ResolveInput<S> = {}): Resolved<S> {
  const problems: string[] = [];
  const resolved: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    const found = rawValue(key, s, input);
    if (found === undefined) {
      resolved[key] = typeof s.default === 'function' ? (s.default as (r: Record<string, unknown>) => unknown)(resolved) : s.default;
      continue;
    }
    const schema = found.source.kind === 'code' ? s.kind.value : s.kind.text;
    const parsed = schema.safeParse(found.value);
    if (parsed.success) resolved[key] = parsed.data;
    else {
      problems.push(describeProblem(found.source, found.value, s, parsed.error));
      resolved[key] = typeof s.default === 'function' ? undefined : s.default;
    }
  }
  if (problems.length === 0 && input.check) problems.push(...input.check(resolved as Resolved<S>));
  if (problems.length > 0) {
    throw new HourglassError('HG_CONFIG_INVALID', `${service} configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return Object.freeze(resolved) as Resolved<S>;
}

/** The value that sets `key`, and where it came from; undefined when nothing does. */
function rawValue<S extends SettingsSpec>(key: string, s: Setting<unknown>, input: ResolveInput<S>): { value: unknown; source: Source } | undefined {
  const override = (input.overrides as Record<string, unknown> | undefined)?.[key];
  if (override !== undefined) return { value: override, source: { kind: 'code', name: key } };
  const flag = s.flag === undefined ? undefined : input.flags?.[s.flag];
  if (flag !== undefined) return { value: typeof flag === 'string' ? flag.trim() : String(flag), source: { kind: 'flag', name: `--${s.flag}` } };
  for (const name of s.env ?? []) {
    const raw = input.env?.[name]?.trim();
    if (raw !== undefined && raw !== '') return { value: raw, source: { kind: 'env', name } };
  }
  return undefined;
}

/** "HOURGLASS_WINDOW_S="7": must be <range> (<zod's reason>)", the value hidden for a secret. */
function describeProblem(source: Source, value: unknown, s: Setting<unknown>, error: z.ZodError): string {
  const shown = s.secret ? '(value hidden)' : JSON.stringify(value);
  const reason = error.issues.map((i) => i.message).join(', ');
  const where = source.kind === 'env' ? source.name : source.kind === 'flag' ? source.name : `option ${source.name}`;
  return `${where}=${shown} is refused: must be ${s.kind.range}${reason && !s.secret ? ` (${reason})` : ''}`;
}
