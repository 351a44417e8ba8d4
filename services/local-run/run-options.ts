// Flags (and environment) of the local run command, parsed and validated once.
import { parseArgs } from 'node:util';

export interface RunOptions {
  /** Storage location. Flag --location, env HOURGLASS_BUCKET. Default: file://./.hourglass-data (or gs://hourglass-local with --gcs). */
  readonly location: string;
  /** Run fake-gcs-server and use it as the bucket. Flag --gcs. */
  readonly gcs: boolean;
  /** Window length (s). Flag --window-s, env HOURGLASS_WINDOW_S. Default: 3600, or 10 with --demo. */
  readonly windowS: number;
  /** Gateway port on 127.0.0.1. Flag --port, env HOURGLASS_PORT. Default: 8080; 0: a free port, picked at start. */
  readonly port: number;
  /** Status page port on 127.0.0.1. Flag --console-port. Default: 8081; 0: a free port, picked at start. */
  readonly consolePort: number;
  /** First ops port (/metrics, /healthz, /readyz) on 127.0.0.1: worker i on opsPort + i, the checker on opsPort + 100, the gateway on opsPort + 200. Flag --ops-port. Default: 9100; 0: free ports, picked at start. */
  readonly opsPort: number;
  /** Number of worker processes. Flag --workers. Default: 1. */
  readonly workers: number;
  /** Generate realistic load for the shipped types (SDK and gateway) and print each window as it closes. Flag --demo. */
  readonly demo: boolean;
  /** Demo load (events/s over all types). Flag --rate. Default: 2000. */
  readonly rate: number;
}

export const USAGE = `usage: npm start -- [--demo] [--window-s N] [--workers N] [--port N] [--console-port N] [--ops-port N] [--location file:///path | --gcs] [--rate N]`;

export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      location: { type: 'string' },
      gcs: { type: 'boolean', default: false },
      'window-s': { type: 'string' },
      port: { type: 'string' },
      'console-port': { type: 'string' },
      'ops-port': { type: 'string' },
      workers: { type: 'string' },
      demo: { type: 'boolean', default: false },
      rate: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}\n${USAGE}`);
    return v;
  };
  const demo = values.demo ?? false;
  const gcs = values.gcs ?? false;
  return {
    location: values.location ?? env.HOURGLASS_BUCKET ?? (gcs ? 'gs://hourglass-local' : 'file://./.hourglass-data'),
    gcs,
    windowS: int('window-s', values['window-s'] ?? env.HOURGLASS_WINDOW_S, demo ? 10 : 3600, 1, 86_400),
    port: int('port', values.port ?? env.HOURGLASS_PORT, 8080, 0, 65_535),
    consolePort: int('console-port', values['console-port'], 8081, 0, 65_535),
    opsPort: int('ops-port', values['ops-port'], 9100, 0, 65_535 - 200),
    workers: int('workers', values.workers, 1, 1, 16),
    demo,
    rate: int('rate', values.rate, 2000, 1, 1_000_000),
  };
}
