// The chaos suite's command line: every flag, its default and its range, parsed once into ChaosOptions.
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './fault-plan.ts';

export const USAGE = `usage: node chaos/run-chaos.ts [--seed N] [--duration-s S] [--window-s W] [--publishers N] [--workers N] [--checkers N]
       [--storage local|gcs] [--rate EVENTS_PER_S_PER_PUBLISHER] [--gateway-batch N] [--liveness-ms MS] [--max-wait-ms MS]
       [--worker-kills N] [--settle-s S] [--faults kind,kind…] [--checker-storage-faults RATE]
       [--dir PATH] [--keep] [--json]`;

export interface ChaosOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly windowS: number;
  readonly publishers: number;
  readonly workers: number;
  readonly checkers: number;
  /** Where the bucket lives: a local directory, or fake-gcs-server (Cloud Storage's API and semantics). */
  readonly storage: 'local' | 'gcs';
  readonly rate: number;
  readonly gatewayBatch: number;
  readonly livenessMs: number;
  readonly maxWaitMs: number;
  /** Least number of worker SIGKILLs the plan holds (each with messages in flight, when the worker has any). */
  readonly workerKills: number;
  /** Longest wait after the run for the pipeline to settle: subscriptions drained, every window closed (s). */
  readonly settleS: number;
  readonly dir: string | undefined;
  /** Only these fault kinds (to narrow a failure down); default every kind. */
  readonly faults: readonly FaultKind[] | undefined;
  /** Share of checker 0's storage writes that fail, before or after landing (HOURGLASS_FAULTS_STORAGE_FAIL_RATE); 0 = none. */
  readonly checkerStorageFaults: number;
  readonly keep: boolean;
  readonly json: boolean;
}

/** Parses the command line; throws an Error whose message is what to print (the usage included). */
export function parseChaosOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      'duration-s': { type: 'string' },
      'window-s': { type: 'string' },
      publishers: { type: 'string' },
      workers: { type: 'string' },
      checkers: { type: 'string' },
      storage: { type: 'string' },
      rate: { type: 'string' },
      'gateway-batch': { type: 'string' },
      'liveness-ms': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'worker-kills': { type: 'string' },
      'settle-s': { type: 'string' },
      faults: { type: 'string' },
      'checker-storage-faults': { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number, integer = true): number => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}\n${USAGE}`);
    }
    return v;
  };
  const windowS = num('window-s', values['window-s'], 5, 1, 3600);
  if (86_400 % windowS !== 0) throw new Error(`--window-s must divide a day\n${USAGE}`);
  const storage = values.storage ?? 'local';
  if (storage !== 'local' && storage !== 'gcs') throw new Error(`--storage must be local or gcs, got ${JSON.stringify(storage)}\n${USAGE}`);
  return {
    seed: num('seed', values.seed, Math.floor(Math.random() * 1e9), 0, 2 ** 32 - 1),
    durationS: num('duration-s', values['duration-s'], 120, 10, 3600),
    windowS,
    publishers: num('publishers', values.publishers, 3, 1, 16),
    workers: num('workers', values.workers, 2, 1, 8),
    checkers: num('checkers', values.checkers, 2, 1, 4),
    storage,
    checkerStorageFaults: num('checker-storage-faults', values['checker-storage-faults'], 0.02, 0, 1, false),
    rate: num('rate', values.rate, 300, 1, 100_000),
    gatewayBatch: num('gateway-batch', values['gateway-batch'], 20, 1, 1000),
    livenessMs: num('liveness-ms', values['liveness-ms'], 5000, 500, 600_000),
    maxWaitMs: num('max-wait-ms', values['max-wait-ms'], 180_000, 1000, 3_600_000),
    workerKills: num('worker-kills', values['worker-kills'], 5, 0, 100),
    settleS: num('settle-s', values['settle-s'], 180, 10, 3600),
    dir: values.dir,
    faults: values.faults === undefined ? undefined : parseKinds(values.faults),
    keep: values.keep ?? false,
    json: values.json ?? false,
  };
}

function parseKinds(raw: string): FaultKind[] {
  const kinds = raw.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) if (!FAULT_KINDS.includes(k as FaultKind)) throw new Error(`--faults: unknown kind ${JSON.stringify(k)} (kinds: ${FAULT_KINDS.join(', ')})\n${USAGE}`);
  return kinds as FaultKind[];
}
