// Property-based tests of the worker's record salvage: see record-salvage.properties.ts; run in a worker with a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

describe('record salvage (property-based; the encoder frames, fastavro reads)', () => {
  it('any block with refused records: exactly those are refused, the rest kept byte for byte in runs fastavro reads', async () => {
    const { cases, refused, kept } = await runWithDeadline<{ cases: number; refused: number; kept: number }>({
      module: new URL('./record-salvage.properties.ts', import.meta.url),
      exportName: 'salvageKeepsGoodRecords',
      args: [150],
      deadlineMs: 120_000,
    });
    assert.equal(cases, 150);
    assert.ok(refused > 100 && kept > 100, `${refused} refused, ${kept} kept`);
  });
});
