// One logger for every service: JSON lines (pino) in Cloud Logging's shape, with the trace of the active span so a line
// joins its trace; Error fields written one way; secrets redacted; every warning and error is a named event that is
// also counted (hourglass.failures), so failures show on dashboards.
import { isSpanContextValid, metrics, trace, TraceFlags } from '@opentelemetry/api';
import { pino, type DestinationStream } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
/** Cloud Logging reads the level from `severity`. */
const SEVERITY: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };

export interface Logger {
  /** Logs `event` (a stable snake_case name) with fields; warn and error are counted as hourglass.failures. */
  log(level: Level, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Lines below this level are not written (they are still counted when warn or error). Default "info". */
  level?: Level;
  /** Takes each line (JSON and a newline) synchronously instead of stdout (tests). */
  write?: (line: string) => void;
  /** Google Cloud project for `logging.googleapis.com/trace` (a service passes its configured project). Default: none, the bare trace id. */
  project?: string;
}

/** What a redacted value is written as. */
export const REDACTED = '[redacted]';
/** Field names whose values are never written: at the top level and up to two objects or arrays down (`request.headers.authorization`). */
export const SECRET_FIELDS = ['authorization', 'Authorization', 'cookie', 'token', 'tokens', 'keys', 'password', 'secret', 'apiKey', 'privateKey'] as const;
const REDACT_PATHS = SECRET_FIELDS.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]);
/** A number or boolean under a secret name is a count or a flag (`keys: 3` in keys_reloaded), never the secret: kept. */
const censor = (value: unknown) => (typeof value === 'number' || typeof value === 'boolean' ? value : REDACTED);

/** Keys of the line itself; a field of the same name is written as `<name>_field` instead of a second key. */
const ENVELOPE = new Set(['severity', 'level', 'time', 'service', 'event', 'message', 'logging.googleapis.com/trace', 'logging.googleapis.com/spanId', 'logging.googleapis.com/trace_sampled']);

/**
 * A logger writing one JSON object per line, e.g.
 * `{"severity":"INFO","level":"info","time":"2026-11-22T21:00:00.000Z","service":"gateway","event":"gateway_listening","url":"…","message":"gateway listening"}`.
 * `message` is a string `message` field if given, else the event name. Inside an active OpenTelemetry span the line also
 * has `logging.googleapis.com/trace` (`projects/<project>/traces/<traceId>`, the bare id without a project),
 * `logging.googleapis.com/spanId` and `logging.googleapis.com/trace_sampled`. Lines to stdout are written synchronously,
 * so a process that exits right after logging loses none.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const project = options.project;
  const write = options.write;
  const destination: DestinationStream = write ? { write: (line: string) => write(line) } : stdout();
  const out = pino(
    {
      level: options.level ?? 'info',
      base: { service },
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ severity: SEVERITY[label as Level] ?? 'DEFAULT', level: label }) },
      // Errors are described (describeError) before pino sees the line; its own `err` serializer would redo it another way.
      serializers: { err: (value: unknown) => value },
      redact: { paths: REDACT_PATHS, censor },
    },
    destination,
  );
  const failures = () => metrics.getMeter('hourglass').createCounter('hourglass.failures', { description: 'Warnings and errors, by service and event name', unit: '{failure}' });
  const log = (level: Level, event: string, fields: Record<string, unknown> = {}) => {
    if (level === 'warn' || level === 'error') failures().add(1, { service, event, level });
    if (!out.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = { event };
    for (const [key, value] of Object.entries(fields)) {
      if (key === 'message' && typeof value === 'string' && value !== '') continue;
      line[ENVELOPE.has(key) ? `${key}_field` : key] = value instanceof Error ? describeError(value) : value;
    }
    Object.assign(line, traceFields(project));
    out[level](line, typeof fields.message === 'string' && fields.message !== '' ? fields.message : event);
  };
  return {
    log,
    info: (e, f) => log('info', e, f),
    warn: (e, f) => log('warn', e, f),
    error: (e, f) => log('error', e, f),
  };
}

/** A logger that drops everything (tests and benchmarks that do not look at logs). Nothing is counted either. */
export const silentLogger: Logger = { log: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** How an Error is written in a log line: name, message, code (if any), stack, and its cause (an Error cause the same way, 3 deep). */
export function describeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  out.stack = err.stack;
  if (err.cause instanceof Error) {
    if (depth < 3) out.cause = describeError(err.cause, depth + 1);
  } else if (err.cause !== undefined) out.cause = err.cause;
  return out;
}

/** Cloud Logging's fields joining a line to the active span's trace; none outside a span. */
function traceFields(project: string | undefined): Record<string, unknown> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return {};
  return {
    'logging.googleapis.com/trace': project ? `projects/${project}/traces/${ctx.traceId}` : ctx.traceId,
    'logging.googleapis.com/spanId': ctx.spanId,
    'logging.googleapis.com/trace_sampled': (ctx.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
  };
}

let stdoutDestination: DestinationStream | undefined;
/** One synchronous stdout destination per process, shared by its loggers. */
function stdout(): DestinationStream {
  stdoutDestination ??= pino.destination({ dest: 1, sync: true });
  return stdoutDestination;
}
