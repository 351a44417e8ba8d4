// Parses the command line: the command, its positional arguments, and the options it allows (global ones included).
import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';

export type CommandName = 'status' | 'ls' | 'cat' | 'manifest' | 'verify' | 'wait' | 'schemas' | 'publish' | 'redrive' | 'help' | 'version';

interface CommandSpec {
  /** Names of the positional arguments, all required. */
  readonly positionals: readonly string[];
  /** Extra optional positionals (help's command name). */
  readonly optionalPositionals?: number;
  readonly options: readonly string[];
}

const SPECS: Record<CommandName, CommandSpec> = {
  status: { positionals: [], options: ['type', 'windows', 'json'] },
  ls: { positionals: ['type'], options: ['limit', 'json'] },
  cat: { positionals: ['type', 'hour'], options: [] },
  manifest: { positionals: ['type', 'hour'], options: [] },
  verify: { positionals: ['type', 'hour'], options: [] },
  wait: { positionals: ['type', 'hour'], options: ['timeout', 'poll-max-s', 'json'] },
  schemas: { positionals: ['check'], options: ['dir'] },
  publish: { positionals: ['type', 'file.jsonl'], options: ['project', 'topic-prefix', 'schema-version', 'skip-invalid'] },
  redrive: {
    positionals: [],
    options: ['type', 'source', 'reason', 'hour', 'since', 'until', 'limit', 'dry-run', 'force', 'delete', 'json', 'project', 'topic-prefix'],
  },
  help: { positionals: [], optionalPositionals: 1, options: [] },
  version: { positionals: [], options: [] },
};

const GLOBAL_OPTIONS = ['location', 'gcs-endpoint', 'window-s', 'help', 'version'];

const OPTIONS = {
  location: { type: 'string', short: 'l' },
  'gcs-endpoint': { type: 'string' },
  'window-s': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  type: { type: 'string' },
  windows: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  dir: { type: 'string' },
  project: { type: 'string' },
  'topic-prefix': { type: 'string' },
  'schema-version': { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  source: { type: 'string' },
  reason: { type: 'string' },
  hour: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  delete: { type: 'boolean' },
  timeout: { type: 'string' },
  'poll-max-s': { type: 'string' },
} as const;

export type OptionValues = { readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export interface ParsedCommandLine {
  readonly command: CommandName;
  /** Positional arguments after the command, by name (see SPECS). */
  readonly args: Readonly<Record<string, string>>;
  /** help's optional command name. */
  readonly extra: readonly string[];
  readonly options: OptionValues;
}

export const NO_COMMAND = 'no command given';

export function isCommandName(s: string): s is CommandName {
  return Object.hasOwn(SPECS, s);
}

/** Parses argv (without node and the script); throws UsageError for anything malformed. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const options = parsed.values as OptionValues;
  const [command, ...rest] = parsed.positionals;
  if (command === undefined) {
    if (options.help) return { command: 'help', args: {}, extra: [], options };
    if (options.version) return { command: 'version', args: {}, extra: [], options };
    throw new UsageError(NO_COMMAND);
  }
  if (!isCommandName(command)) throw new UsageError(`unknown command "${command}"`);
  const spec = SPECS[command];
  for (const name of Object.keys(options)) {
    if (!GLOBAL_OPTIONS.includes(name) && !spec.options.includes(name)) throw new UsageError(`option --${name} does not apply to "${command}"`, command);
  }
  if (options.help) return { command: 'help', args: {}, extra: [command], options };
  // Like --help, --version wins over whatever else the command line says.
  if (options.version) return { command: 'version', args: {}, extra: [], options };
  if (rest.length < spec.positionals.length) {
    const missing = spec.positionals.slice(rest.length).map((p) => `<${p}>`).join(' ');
    throw new UsageError(`"${command}" needs ${missing}`, command);
  }
  if (rest.length > spec.positionals.length + (spec.optionalPositionals ?? 0)) {
    throw new UsageError(`"${command}" got unexpected arguments: ${rest.slice(spec.positionals.length + (spec.optionalPositionals ?? 0)).join(' ')}`, command);
  }
  if (command === 'schemas' && rest[0] !== 'check') throw new UsageError(`unknown subcommand "schemas ${rest[0]}" (only "schemas check")`, command);
  const args: Record<string, string> = {};
  spec.positionals.forEach((name, i) => (args[name] = rest[i]!));
  return { command, args, extra: rest.slice(spec.positionals.length), options };
}

/** A positive integer option, or UsageError. */
export function positiveInt(name: string, raw: string | undefined, fallback: number, command: string): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(raw)}`, command);
  return v;
}
