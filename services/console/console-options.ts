// The console process's settings, resolved once from the environment.
import { HourglassError } from '../errors/catalogue.ts';
import { assertWindowLength } from '../wire/window.ts';

export interface ConsoleProcessOptions {
  /** The bucket. Env HOURGLASS_BUCKET. Default: file://./.hourglass-data */
  readonly location: string;
  /** GCS endpoint (fake-gcs-server). Env HOURGLASS_GCS_ENDPOINT. */
  readonly gcsEndpoint?: string;
  /** Env HOURGLASS_CONSOLE_PORT. Default: 8081. */
  readonly port: number;
  /** Env HOURGLASS_CONSOLE_HOST. Default: 127.0.0.1. */
  readonly host: string;
  /** Window length (s) until a checker status says. Env HOURGLASS_WINDOW_S. Default: 3600. */
  readonly windowS: number;
  /** Registry folder. Env HOURGLASS_SCHEMAS_DIR. Default: the shipped schemas/. */
  readonly schemasDir?: string;
  readonly projectId?: string;
}

export function resolveConsoleOptions(env: NodeJS.ProcessEnv): ConsoleProcessOptions {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || v < min || v > max) throw new HourglassError('HG_CONFIG_INVALID', `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return v;
  };
  const windowS = int('HOURGLASS_WINDOW_S', 3600, 1, 86_400);
  try {
    assertWindowLength(windowS);
  } catch (err) {
    throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_WINDOW_S: ${(err as Error).message}`);
  }
  return {
    location: env.HOURGLASS_BUCKET || 'file://./.hourglass-data',
    gcsEndpoint: env.HOURGLASS_GCS_ENDPOINT || undefined,
    port: int('HOURGLASS_CONSOLE_PORT', 8081, 0, 65_535),
    host: env.HOURGLASS_CONSOLE_HOST || '127.0.0.1',
    windowS,
    schemasDir: env.HOURGLASS_SCHEMAS_DIR || undefined,
    projectId: env.HOURGLASS_PROJECT || undefined,
  };
}
