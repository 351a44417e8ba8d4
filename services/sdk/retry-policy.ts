// When a failed publish is worth retrying, and how long to wait: pure functions, tested as a case table.

/** gRPC status codes on which a publish may succeed if tried again. */
const RETRYABLE_GRPC_CODES = new Set([
  1, // CANCELLED (connection torn down under us)
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

export type AttemptOutcome = { kind: 'retryable'; retryInMs: number } | { kind: 'permanent' };

export interface BackoffOptions {
  /** First retry delay (ms). Default 100. */
  readonly initialBackoffMs: number;
  /** Ceiling of a retry delay (ms). Default 5000. */
  readonly maxBackoffMs: number;
}

/** True when an error from the Pub/Sub client is worth another attempt. */
export function isRetryablePublishError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') return RETRYABLE_GRPC_CODES.has(code);
  // Errors without a gRPC code are transport failures (socket closed, DNS): retry.
  return true;
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, initial * 2^attempt)]. */
export function backoffMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** What to do after attempt number `attempt` (0-based) failed with `err`, given the time left. */
export function decideRetry(err: unknown, attempt: number, msLeft: number, options: BackoffOptions, random?: () => number): AttemptOutcome {
  if (!isRetryablePublishError(err) || msLeft <= 0) return { kind: 'permanent' };
  return { kind: 'retryable', retryInMs: Math.min(msLeft, backoffMs(attempt, options, random)) };
}
