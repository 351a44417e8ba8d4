// The one catalogue of hourglass errors: stable codes, whether a retry can help, and the HTTP status where one applies.

/** Every error hourglass raises on purpose, keyed by its stable code. */
export const ERROR_CATALOGUE = {
  HG_REGISTRY_BAD_NAME: { httpStatus: 500, retryable: false },
  HG_REGISTRY_BAD_FILE: { httpStatus: 500, retryable: false },
  HG_REGISTRY_INCOMPATIBLE: { httpStatus: 500, retryable: false },
  HG_UNKNOWN_TYPE: { httpStatus: 404, retryable: false },
  HG_UNKNOWN_VERSION: { httpStatus: 400, retryable: false },
  HG_INVALID_EVENT: { httpStatus: 400, retryable: false },
  HG_EVENT_TOO_LARGE: { httpStatus: 413, retryable: false },
  HG_BODY_TOO_LARGE: { httpStatus: 413, retryable: false },
  HG_BAD_CONTENT_TYPE: { httpStatus: 415, retryable: false },
  HG_BAD_REQUEST: { httpStatus: 400, retryable: false },
  HG_UNAUTHORIZED: { httpStatus: 401, retryable: false },
  HG_FORBIDDEN_TYPE: { httpStatus: 403, retryable: false },
  HG_BACKPRESSURE: { httpStatus: 429, retryable: true },
  HG_OVER_QUOTA: { httpStatus: 429, retryable: true },
  HG_PUBSUB_UNAVAILABLE: { httpStatus: 503, retryable: true },
  HG_PUBLISH_FAILED: { httpStatus: 503, retryable: false },
  HG_PUBLISHER_CLOSED: { httpStatus: 503, retryable: false },
  /** Publisher.close({ timeoutMs }) ran out of time: the events its details count were not acknowledged (treat them as not sent). */
  HG_CLOSE_TIMEOUT: { httpStatus: 503, retryable: true },
  HG_STORAGE_EXISTS: { httpStatus: 409, retryable: false },
  HG_STORAGE_NOT_FOUND: { httpStatus: 404, retryable: false },
  HG_STORAGE_BAD_KEY: { httpStatus: 400, retryable: false },
  HG_STORAGE_UNAVAILABLE: { httpStatus: 503, retryable: true },
  /** One object name written again within a second (Cloud Storage's per-object limit answers such writes 429). */
  HG_STORAGE_RATE_LIMITED: { httpStatus: 429, retryable: true },
  HG_STORAGE_BAD_LOCATION: { httpStatus: 500, retryable: false },
  HG_CONFIG_INVALID: { httpStatus: 500, retryable: false },
  HG_NO_ROUTE: { httpStatus: 404, retryable: false },
  HG_METHOD_NOT_ALLOWED: { httpStatus: 405, retryable: false },
  HG_SHUTTING_DOWN: { httpStatus: 503, retryable: true },
  HG_INTERNAL: { httpStatus: 500, retryable: true },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** An error with a stable code; `details` is safe to show to a client (never a stack trace). */
export class HourglassError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HourglassError';
    this.code = code;
    this.httpStatus = ERROR_CATALOGUE[code].httpStatus;
    this.retryable = options.retryable ?? ERROR_CATALOGUE[code].retryable;
    this.details = options.details;
  }
}

/** True when `err` is a HourglassError with the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is HourglassError {
  return err instanceof HourglassError && err.code === code;
}
