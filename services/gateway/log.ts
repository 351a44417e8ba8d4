// The gateway's log: the shared JSON logger (service "gateway", warnings and errors counted), with Error fields written out.
import { createLogger, type Level, type Logger } from '../telemetry/logger.ts';

export type GatewayLogger = Logger;

/** JSON lines on stdout (default) with `severity`, `level`, `service` and `event`; an Error in a field is written with its code, message, stack and cause. */
export function gatewayLogger(options: { level?: Level; write?: (line: string) => void } = {}): GatewayLogger {
  const inner = createLogger('gateway', options);
  const log = (level: Level, event: string, fields: Record<string, unknown> = {}) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? describeError(value) : value;
    inner.log(level, event, out);
  };
  return {
    log,
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
  };
}

/** A logger that drops everything (tests and benchmarks that do not look at logs). Nothing is counted either. */
export const silentLogger: GatewayLogger = { log: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function describeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause instanceof Error && depth < 3) out.cause = describeError(err.cause, depth + 1);
  return out;
}
