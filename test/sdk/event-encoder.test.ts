// EventEncoder.append and ByteSink: the regressions of issue 12 §0 (appends that never returned), each run in a worker with a deadline so a loop fails the test instead of hanging the suite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from '../../services/registry/registry.ts';
import { ByteSink, EventEncoder } from '../../services/sdk/event-encoder.ts';
import { runWithDeadline } from '../helpers/bounded-worker.ts';
import { GATEWAY_PUBLISHER, searchEvent } from './append-cases.ts';

const CASES = new URL('./append-cases.ts', import.meta.url);
/** Far above what each case takes, even on a loaded machine; a looping append never gets there. */
const DEADLINE_MS = 60_000;

const inWorker = <T>(exportName: string, ...args: unknown[]) => runWithDeadline<T>({ module: CASES, exportName, args, deadlineMs: DEADLINE_MS });

describe('EventEncoder.append terminates (issue 12 §0: avsc reports overflow past the buffer end, not past the write position)', () => {
  it('search events with a 100-character query into a fresh 64 KiB batch buffer, past its end (user ids of 1 to 40 characters)', async () => {
    assert.equal(await inWorker<number>('appendSearchEvents', 400, 40), 400 * 40);
  });

  it('one 100 KB event into a fresh 64 KiB batch buffer', async () => {
    assert.equal(await inWorker<number>('appendOneLargeEvent', 100_000), 100_000);
  });

  it('the same event at every fill state of the buffer, from plenty of room to none', async () => {
    assert.equal(await inWorker<number>('appendAtEveryFillState', 600), 601);
  });

  it('a sink created with no room at all (growing 0 bytes twofold is still 0)', async () => {
    assert.equal(await inWorker<string>('appendToEmptySink'), `${GATEWAY_PUBLISHER}-3`);
  });

  it('a payload that overflows again after the buffer grew: HG_INTERNAL, never a loop, and the batch is left as it was', async () => {
    assert.deepEqual(await inWorker('appendShiftingPayload'), { code: 'HG_INTERNAL', lengthKept: true });
  });
});

describe('EventEncoder.append encodes the generated event id exactly', () => {
  it('seqs whose decimal digits Math.log10 miscounts (10^15 - 1 and up): the id\'s length prefix matches its bytes', async () => {
    const version = (await Registry.load()).require('search_performed').latest;
    const encoder = new EventEncoder(version, 'p');
    // avsc (which checks and decodes delivered records) takes longs up to 2^53 - 2, so that is the top.
    for (const seq of [0, 9, 10, 999, 1000, 999_999_999_999_999, 1_000_000_000_000_000, Number.MAX_SAFE_INTEGER - 1]) {
      const sink = new ByteSink(256);
      const size = encoder.append(sink, searchEvent('q'), seq, 1_700_000_000_000_000, undefined);
      const expected = version.deliveredType.toBuffer({ event_id: `p-${seq}`, receive_time: 1_700_000_000_000_000, publisher: 'p', seq, ...searchEvent('q') });
      assert.equal(size, expected.length, `seq ${seq}`);
      assert.deepEqual(sink.bytes(), expected, `seq ${seq}: the same bytes as avsc's own encoding of the delivered record`);
    }
  });
});
