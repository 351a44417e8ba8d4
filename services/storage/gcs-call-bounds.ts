// How long one Cloud Storage call may take, and the client library's own retries inside that time.
//
// Callers retry on their own (the worker's write-retry loop, the checker's next round), so a call must
// hand control back to them within a known time instead of retrying out of sight. Left alone,
// @google-cloud/storage 8.4 retries a call for up to 600 s (retryOptions.totalTimeout), and on Node a
// request whose server stops answering never ends at all: the client's `timeout` option reaches
// node-fetch 3 through teeny-request 11, and node-fetch 3 has no timeout (measured here: a stat, a
// create and a list through a blackholed proxy were still waiting after 15 s with `timeout: 2000`).
// So every call runs under a deadline of our own (`callDeadlineMs`), and the library's retries are
// kept short enough to fit inside it.
import { IdempotencyStrategy, type StorageOptions } from '@google-cloud/storage';
import { HourglassError } from '../errors/catalogue.ts';

type RetryOptions = NonNullable<StorageOptions['retryOptions']>;
type Interceptor = NonNullable<StorageOptions['interceptors_']>[number];

export interface GcsCallBounds {
  /**
   * Longest wait for one storage call, its client-side retries included, before it fails with a
   * retryable HG_STORAGE_UNAVAILABLE (ms). Uploads also get their transfer allowance; downloads fail
   * only when no byte arrived for this long. Default: 10000.
   */
  readonly requestTimeoutMs: number;
  /** Slowest upload rate waited for (bytes/s): an upload of N bytes may also take N / this. Default: 8 MiB/s. */
  readonly minUploadBytesPerS: number;
}

export const DEFAULT_GCS_CALL_BOUNDS: GcsCallBounds = { requestTimeoutMs: 10_000, minUploadBytesPerS: 8 * 1024 * 1024 };

/** The deadline of a call that uploads `bytes` (0 for metadata calls). */
export function callDeadlineMs(bounds: GcsCallBounds, bytes = 0): number {
  return bounds.requestTimeoutMs + Math.ceil((bytes * 1000) / bounds.minUploadBytesPerS);
}

/**
 * The client library's retry options: a couple of quick retries of transient failures (429, 5xx, a
 * reset connection), none started after the call's own deadline.
 */
export function clientRetryOptions(bounds: GcsCallBounds): RetryOptions {
  return {
    autoRetry: true,
    maxRetries: 2,
    retryDelayMultiplier: 2,
    /** Seconds, as the library counts. */
    maxRetryDelay: 1,
    totalTimeout: bounds.requestTimeoutMs / 1000,
    // Every call hourglass makes may be repeated: puts rewrite the same bytes, deletes ignore a missing
    // object, creates carry ifGenerationMatch: 0 and a 412 met by a retry is resolved by comparing bytes.
    // RetryAlways also keeps the library off its RetryConditional path, where the first save without a
    // precondition sets retryOptions.autoRetry = false on the shared client and never sets it back
    // (file.js, save()): after one put, no request of the client would be retried any more.
    idempotencyStrategy: IdempotencyStrategy.RetryAlways,
  };
}

/**
 * A request interceptor that turns the client's retries off for downloads. A download is a stream, and when
 * @google-cloud/storage 8.4 retries a stream (after a 503, say), teeny-request 11 pipes the answer into the
 * stream it has already destroyed and throws ERR_STREAM_UNABLE_TO_PIPE from an event handler: an uncaught
 * exception, once per retry, which ends the process (reproduced with file.download() behind a proxy
 * answering 503). Without retries the download fails with the 503, and the caller retries it.
 */
export const noRetriedDownloads: Interceptor = {
  request(reqOpts) {
    const opts = reqOpts as ReturnType<Interceptor['request']>;
    return (opts.qs as { alt?: unknown } | undefined)?.alt === 'media' ? { ...opts, maxRetries: 0 } : opts;
  },
};

/**
 * Runs `call`, failing with a retryable HG_STORAGE_UNAVAILABLE if it has not settled within `ms`.
 * The call itself is abandoned, not aborted (the library offers no way to abort it): its socket is
 * freed when the connection fails, and a write may still land later, which callers already allow for.
 */
export async function withDeadline<T>(what: string, ms: number, call: () => Promise<T>): Promise<T> {
  const running = call();
  running.catch(() => undefined); // settles after the deadline, unobserved
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HourglassError('HG_STORAGE_UNAVAILABLE', `${what}: no answer from storage within ${ms} ms`, { retryable: true })), ms);
  });
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}
