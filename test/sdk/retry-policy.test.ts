// The publish retry decision as a case table: which failures are retried, with what backoff, until the deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, decideRetry, isRetryablePublishError } from '../../services/sdk/retry-policy.ts';

const backoff = { initialBackoffMs: 100, maxBackoffMs: 5000 };

describe('publish retry policy', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['R01 UNAVAILABLE (14) is retried', { code: 14 }, true],
    ['R02 DEADLINE_EXCEEDED (4) is retried', { code: 4 }, true],
    ['R03 RESOURCE_EXHAUSTED (8) is retried', { code: 8 }, true],
    ['R04 INTERNAL (13) is retried', { code: 13 }, true],
    ['R05 ABORTED (10) is retried', { code: 10 }, true],
    ['R06 CANCELLED (1) is retried', { code: 1 }, true],
    ['R07 NOT_FOUND (5, topic missing) is permanent', { code: 5 }, false],
    ['R08 PERMISSION_DENIED (7) is permanent', { code: 7 }, false],
    ['R09 INVALID_ARGUMENT (3, e.g. too large) is permanent', { code: 3 }, false],
    ['R10 a transport error without a code is retried', new Error('socket hang up'), true],
  ];
  for (const [name, err, retryable] of cases) {
    it(name, () => assert.equal(isRetryablePublishError(err), retryable));
  }

  it('R11 backoff grows exponentially, capped, with full jitter', () => {
    assert.equal(backoffMs(0, backoff, () => 0.999), 99);
    assert.equal(backoffMs(3, backoff, () => 0.5), 400);
    assert.equal(backoffMs(20, backoff, () => 0.999), 4995);
    assert.equal(backoffMs(5, backoff, () => 0), 0);
  });

  it('R12 no retry once the deadline has passed, and a retry never sleeps past it', () => {
    assert.deepEqual(decideRetry({ code: 14 }, 2, 0, backoff), { kind: 'permanent' });
    assert.deepEqual(decideRetry({ code: 14 }, 10, 30, backoff, () => 0.9), { kind: 'retryable', retryInMs: 30 });
    assert.deepEqual(decideRetry({ code: 7 }, 0, 10_000, backoff), { kind: 'permanent' });
  });
});
