// Retries a storage write with exponential backoff and jitter until it succeeds, fails for good, or a deadline passes.
//
// The retry decision is a pure function (`isRetryableWriteError`); the loop around it only sleeps
// and counts. Giving up is not losing: the caller then nacks, and Pub/Sub delivers the messages again.
import { HourglassError } from '../errors/catalogue.ts';

export interface RetryPolicy {
  /** First delay (ms). */
  readonly initialBackoffMs: number;
  /** Ceiling of one delay (ms). */
  readonly maxBackoffMs: number;
  /** No attempt starts after this long from the first (ms). */
  readonly deadlineMs: number;
}

export type RetryOutcome<T> = { ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number };

/** Whether another attempt can help: any error except a HourglassError that says it is permanent. */
export function isRetryableWriteError(err: unknown): boolean {
  return !(err instanceof HourglassError) || err.retryable;
}

/** Delay before retry number `retry` (0-based): half fixed, half random ("equal jitter"), doubling up to the ceiling. */
export function backoffMs(retry: number, policy: Pick<RetryPolicy, 'initialBackoffMs' | 'maxBackoffMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(retry, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * Runs `attempt` until it resolves. A retryable failure calls `onRetry` and waits; a permanent one,
 * or a failure when the next attempt would start past the deadline, ends the loop with ok: false.
 */
export async function retryWrite<T>(attempt: () => Promise<T>, policy: RetryPolicy, onRetry: (err: unknown, retry: number) => void): Promise<RetryOutcome<T>> {
  const deadline = performance.now() + policy.deadlineMs;
  for (let retry = 0; ; retry++) {
    try {
      return { ok: true, value: await attempt(), attempts: retry + 1 };
    } catch (err) {
      const delay = backoffMs(retry, policy);
      if (!isRetryableWriteError(err) || performance.now() + delay > deadline) return { ok: false, error: err, attempts: retry + 1 };
      onRetry(err, retry);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
