// Turns any error raised on a gateway route into a JSON answer with a stable code: never a stack trace, never an internal detail.
//
// Client errors (4xx) carry the HourglassError's message and details: they say what the client
// sent wrong. Server-side errors (5xx) carry a fixed public message per code, because their
// messages name internal things (topics, addresses, gRPC errors); the full error goes to the log.
import { HourglassError, type ErrorCode } from '../errors/catalogue.ts';
import { jsonErrorOffset } from '../registry/json-error-offset.ts';

/** The body of every error answer. */
export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    /** True when the same request may succeed later (after Retry-After, if given). */
    readonly retryable: boolean;
    readonly details?: unknown;
  };
}

export interface ErrorAnswer {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: ErrorBody;
  /** Seconds, for the Retry-After header (429 and 503 answers). */
  readonly retryAfterS: number | undefined;
}

const PUBLIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  HG_PUBSUB_UNAVAILABLE: 'Pub/Sub is unavailable: the events may not have been stored; retry the whole request (events with an event_id are de-duplicated)',
  HG_PUBLISH_FAILED: 'Pub/Sub refused the events: they were not stored; retry the whole request later (events with an event_id are de-duplicated)',
  HG_PUBLISHER_CLOSED: 'the gateway is shutting down; retry the request',
  HG_SHUTTING_DOWN: 'the gateway is shutting down; retry the request',
  HG_INTERNAL: 'internal error; retry the request',
};

/** Longest message sent to a client; anything longer is cut (it came from somewhere it should not have). */
const MAX_MESSAGE_CHARS = 2000;

/** Any thrown value as a HourglassError: our own as they are, express/body-parser errors mapped, the rest HG_INTERNAL. */
export function asHourglassError(err: unknown): HourglassError {
  if (err instanceof HourglassError) return err;
  const e = err as { type?: unknown; status?: unknown; limit?: unknown; length?: unknown; body?: unknown; message?: unknown; charset?: unknown; encoding?: unknown };
  switch (e?.type) {
    case 'entity.too.large':
      return new HourglassError('HG_BODY_TOO_LARGE', `request body is larger than the limit of ${String(e.limit)} bytes`, {
        cause: err,
        details: { limit: e.limit, ...(typeof e.length === 'number' ? { bytes: e.length } : {}) },
      });
    case 'entity.parse.failed':
      return jsonParseError(err, typeof e.body === 'string' ? e.body : undefined);
    case 'charset.unsupported':
      return new HourglassError('HG_BAD_CONTENT_TYPE', `unsupported charset "${String(e.charset)}": send UTF-8 JSON`, { cause: err });
    case 'encoding.unsupported':
      return new HourglassError('HG_BAD_CONTENT_TYPE', `unsupported Content-Encoding "${String(e.encoding)}": send identity, gzip, deflate, br or zstd`, {
        cause: err,
      });
    case 'request.aborted':
    case 'request.size.invalid':
      return new HourglassError('HG_BAD_REQUEST', 'request body was cut short (its size did not match Content-Length)', { cause: err });
  }
  // Other client errors from express, the router or body-parser (http-errors carry a 4xx status).
  const status = typeof e?.status === 'number' ? e.status : (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode = status === 413 ? 'HG_BODY_TOO_LARGE' : status === 415 ? 'HG_BAD_CONTENT_TYPE' : 'HG_BAD_REQUEST';
    const zlibCode = String((err as { code?: unknown }).code ?? '');
    const message =
      /^Z_|BROTLI|^ERR__|ZSTD/.test(zlibCode) || (err as { errno?: unknown }).errno !== undefined
        ? 'request body could not be decompressed (Content-Encoding does not match the body)'
        : err instanceof URIError
          ? `malformed percent-encoding in the URL: ${firstLine(String(e.message))}`
          : (err as { expose?: unknown }).expose === true
            ? firstLine(String(e.message))
            : 'bad request';
    return new HourglassError(code, message, { cause: err });
  }
  return new HourglassError('HG_INTERNAL', 'internal error', { cause: err });
}

/** The answer for an error; `retryAfterS` is used for 429 and 503, unless the error's details name their own (a quota knows when it refills). */
export function errorAnswer(err: HourglassError, retryAfterS: number): ErrorAnswer {
  const serverSide = err.httpStatus >= 500;
  const message = (serverSide ? (PUBLIC_MESSAGES[err.code] ?? 'internal error') : firstLine(err.message)).slice(0, MAX_MESSAGE_CHARS);
  const details = serverSide ? undefined : err.details;
  return {
    status: err.httpStatus,
    code: err.code,
    body: { error: { code: err.code, message, retryable: err.retryable, ...(details === undefined ? {} : { details }) } },
    retryAfterS: err.httpStatus === 429 || err.httpStatus === 503 ? (ownRetryAfterS(err) ?? retryAfterS) : undefined,
  };
}

/** A JSON syntax error as HG_BAD_REQUEST with where it went wrong (offset, line and column, 1-based). */
export function jsonParseError(cause: unknown, text: string | undefined): HourglassError {
  const raw = String((cause as { message?: unknown })?.message ?? '');
  const reason = raw
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, ".*" is not valid JSON$/s, '')
    .slice(0, 200);
  const offset = text === undefined ? -1 : jsonErrorOffset(text);
  if (offset < 0 || text === undefined) {
    return new HourglassError('HG_BAD_REQUEST', `request body is not valid JSON: ${reason}`, { cause, details: { reason } });
  }
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return new HourglassError('HG_BAD_REQUEST', `request body is not valid JSON: ${reason} at position ${offset} (line ${line}, column ${column})`, {
    cause,
    details: { reason, position: offset, line, column },
  });
}

/** A whole number of seconds ≥ 1 in `details.retryAfterS`, if the error carries one. */
function ownRetryAfterS(err: HourglassError): number | undefined {
  const own = (err.details as { retryAfterS?: unknown } | undefined)?.retryAfterS;
  return typeof own === 'number' && Number.isSafeInteger(own) && own >= 1 ? own : undefined;
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return nl < 0 ? message : message.slice(0, nl);
}
