// Property-based tests of compactWindow, closing's data half: see window-compactor.properties.ts; run in a worker with a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

describe('window compaction (property-based; fastavro as the independent reader)', () => {
  it('redeliveries, overlapping re-sends, any codecs and versions: the part files hold every event exactly once, within the size limit, unique blocks copied byte for byte', async () => {
    const covered = await runWithDeadline<{ parts: number; copiedBlocks: number; events: number }>({
      module: new URL('./window-compactor.properties.ts', import.meta.url),
      exportName: 'partFilesHoldEveryEventOnce',
      args: [40],
      deadlineMs: 120_000,
    });
    assert.ok(covered.copiedBlocks > 5, `the fast path was taken (${covered.copiedBlocks} blocks copied)`);
    assert.ok(covered.parts > 40, `the size limit split parts (${covered.parts} parts)`);
  });
});
