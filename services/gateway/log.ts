// The gateway's log: one JSON object per line with a Cloud Logging `severity`, so Cloud Run indexes the fields.

export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export interface GatewayLogger {
  log(severity: Severity, message: string, fields?: Record<string, unknown>): void;
}

/** Writes JSON lines to `stream` (default: stderr). Errors in fields are written with their code, message and stack. */
export function jsonLogger(stream: { write(line: string): unknown } = process.stderr): GatewayLogger {
  return {
    log(severity, message, fields = {}) {
      const entry: Record<string, unknown> = { severity, message, time: new Date().toISOString(), component: 'gateway' };
      for (const [key, value] of Object.entries(fields)) entry[key] = value instanceof Error ? describeError(value) : value;
      stream.write(`${JSON.stringify(entry)}\n`);
    },
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: GatewayLogger = { log: () => undefined };

function describeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause instanceof Error && depth < 3) out.cause = describeError(err.cause, depth + 1);
  return out;
}
