// Property-based tests of SDK batches: see event-encoder.properties.ts. Run in a worker with a deadline, so an append that never returns fails instead of hanging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

describe('SDK batches (property-based, fastavro as the independent reader)', () => {
  it('any buffer state, payload size and content, seq, receive time and client id: appends return, and every codec round-trips byte-exact', async () => {
    const covered = await runWithDeadline<{ events: number; largestRecordBytes: number }>({
      module: new URL('./event-encoder.properties.ts', import.meta.url),
      exportName: 'sdkBatchesRoundTrip',
      args: [60],
      deadlineMs: 120_000,
    });
    assert.ok(covered.largestRecordBytes > 1_000_000, `some record passed a megabyte (largest: ${covered.largestRecordBytes} bytes)`);
  });
});
