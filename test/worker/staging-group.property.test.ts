// Property-based tests of worker staging files: see staging-group.properties.ts; run in a worker with a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

describe('worker staging files (property-based; fastavro as the independent reader)', () => {
  it('any SDK messages: fastavro reads exactly their records, and each manifest range frames exactly its message\'s block', async () => {
    const { messages, recompressed } = await runWithDeadline<{ messages: number; recompressed: number }>({
      module: new URL('./staging-group.properties.ts', import.meta.url),
      exportName: 'stagingFilesRoundTrip',
      args: [60],
      deadlineMs: 120_000,
    });
    assert.ok(messages > 60 && recompressed > 0, `${messages} messages, ${recompressed} recompressed`);
  });
});
