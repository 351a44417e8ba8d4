// Structured JSON logs with levels; every warning and error is a named event that is also counted, so failures show on dashboards.
import { metrics } from '@opentelemetry/api';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Cloud Logging reads the level from `severity`. */
const SEVERITY: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };

export interface Logger {
  /** Logs `event` (a stable snake_case name) with fields; warn and error are counted as hourglass.failures. */
  log(level: Level, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(service: string, options: { level?: Level; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const failures = () => metrics.getMeter('hourglass').createCounter('hourglass.failures', { description: 'Warnings and errors, by service and event name' });
  const log = (level: Level, event: string, fields: Record<string, unknown> = {}) => {
    if (level === 'warn' || level === 'error') failures().add(1, { service, event, level });
    if (ORDER[level] < min) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), severity: SEVERITY[level], level, service, event, ...fields })}\n`);
  };
  return {
    log,
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
  };
}
