// Property-based tests of proveRecordCount on SDK-encoded blocks of every shipped type and a type using every Avro type. See record-skipper.properties.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

const PROPERTIES = new URL('./record-skipper.properties.ts', import.meta.url);
const run = <T>(exportName: string, numRuns: number) => runWithDeadline<T>({ module: PROPERTIES, exportName, args: [numRuns], deadlineMs: 120_000 });

describe('proveRecordCount (property-based; fastavro as the independent reader)', () => {
  it('valid blocks prove at their count and no other; cut short or extended, they are refused', async () => {
    assert.equal(await run<number>('validBlocksProve', 200), 200);
  });

  it('damaged blocks get an answer, never an exception or a hang, and whatever is proved fastavro reads exactly', async () => {
    const { refused, proved } = await run<{ refused: number; proved: number }>('damagedBlocksAnswer', 1000);
    assert.ok(refused > 300, `most damage is refused (${refused})`);
    assert.ok(proved > 0, `some damage leaves a valid block, which fastavro must read (${proved})`);
  });
});
