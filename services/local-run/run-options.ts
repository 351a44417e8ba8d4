// The local run command's configuration schema (services/config): its flags (and the few variables it shares with the services), parsed and checked once.
import { parseArgs } from 'node:util';
import { flag, integer } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { bucket, windowS } from '../config/shared-settings.ts';

export const USAGE = `usage: npm start -- [--demo] [--window-s N] [--workers N] [--port N] [--console-port N] [--ops-port N] [--location file:///path | --gcs] [--rate N] [--tables]`;

export const RUN_SETTINGS = settings({
  demo: setting<boolean>({ doc: 'Generate realistic load for the shipped types (SDK and gateway) and print each window as it closes.', kind: flag(), flag: 'demo', default: false }),
  gcs: setting<boolean>({ doc: 'Run fake-gcs-server and use it as the bucket.', kind: flag(), flag: 'gcs', default: false }),
  location: setting<string>({ ...bucket, flag: 'location', default: (r) => (r.gcs ? 'gs://hourglass-local' : (bucket.default as string)), defaultText: 'file://./.hourglass-data, or gs://hourglass-local with --gcs' }),
  windowS: setting<number>({ ...windowS, flag: 'window-s', default: (r) => (r.demo ? 10 : 3600), defaultText: '3600, or 10 with --demo' }),
  port: setting<number>({ doc: 'Gateway port on 127.0.0.1; 0 picks a free one.', kind: integer(0, 65_535), flag: 'port', env: ['HOURGLASS_PORT'], default: 8080 }),
  consolePort: setting<number>({ doc: 'Status page port on 127.0.0.1; 0 picks a free one.', kind: integer(0, 65_535), flag: 'console-port', default: 8081 }),
  opsPort: setting<number>({
    doc: 'First ops port (/metrics, /health/live, /health/ready) on 127.0.0.1: worker i on it + i, the checker on it + 100, the gateway on it + 200; 0 picks free ones.',
    kind: integer(0, 65_535 - 200),
    flag: 'ops-port',
    default: 9100,
  }),
  workers: setting<number>({ doc: 'Number of worker processes.', kind: integer(1, 16), flag: 'workers', default: 1 }),
  rate: setting<number>({ doc: 'Demo load, events/s over all types.', kind: integer(1, 1_000_000, 'events/s'), flag: 'rate', default: 2000 }),
  tables: setting<boolean>({
    doc: 'Also run Apache Iceberg\'s REST catalog (its own server, from the set-up\'s Maven jars; tables under ./.hourglass-tables) and the table committer: each closed window of a type with "table": true becomes a snapshot of its Iceberg table.',
    kind: flag(),
    flag: 'tables',
    default: false,
  }),
});

export type RunOptions = Resolved<typeof RUN_SETTINGS>;

/** Parses the command line (and environment); throws an Error whose message is every problem and the usage. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      location: { type: 'string' },
      gcs: { type: 'boolean' },
      'window-s': { type: 'string' },
      port: { type: 'string' },
      'console-port': { type: 'string' },
      'ops-port': { type: 'string' },
      workers: { type: 'string' },
      demo: { type: 'boolean' },
      rate: { type: 'string' },
      tables: { type: 'boolean' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  try {
    return resolveSettings('npm start', RUN_SETTINGS, { env, flags: values });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`, { cause: err });
  }
}
