// The reproductions of issue 12 §0 (EventEncoder.append looping forever), run by event-encoder.test.ts in a worker thread with a deadline.
//
// Each returns what it decoded from the batch it built, so the test checks the bytes too, not only
// that the call came back.
import assert from 'node:assert/strict';
import { Registry } from '../../services/registry/registry.ts';
import { ByteSink, EventEncoder } from '../../services/sdk/event-encoder.ts';

/** A publisher id as the gateway's SDK makes one: origin, then a UUID (44 characters). */
export const GATEWAY_PUBLISHER = 'gateway-8f2c1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e5f';
/** The SDK's first batch buffer. */
export const FRESH_BATCH_BYTES = 64 * 1024;
const RECEIVE_US = Date.UTC(2026, 10, 22, 12) * 1000;

export function searchEvent(query: string, userId = 'user-00042') {
  return { user_id: userId, query, input: 'TYPED', results_count: 12, latency_ms: 85, clicked_position: null, market: 'SE' };
}

async function searchEncoder(): Promise<{ encoder: EventEncoder; decode: (datums: Buffer) => Array<Record<string, unknown>> }> {
  const version = (await Registry.load()).require('search_performed').latest;
  const decode = (datums: Buffer) => {
    const records: Array<Record<string, unknown>> = [];
    for (let pos = 0; pos < datums.length; ) {
      const { value, offset } = version.deliveredType.decode(datums, pos);
      assert.ok(offset > pos, `record ${records.length} is truncated`);
      records.push(value as Record<string, unknown>);
      pos = offset;
    }
    return records;
  };
  return { encoder: new EventEncoder(version, GATEWAY_PUBLISHER), decode };
}

/**
 * A new user's first try: search events with a 100-character query into a fresh 64 KiB batch buffer,
 * enough of them to cross the end of the buffer. Whether the crossing lands where the old code
 * looped depends on the event's exact size, so this is done once per user id length (1 to
 * `userIdLengths`), each time in a fresh buffer. Returns the number of events decoded with their query.
 */
export async function appendSearchEvents(perBatch: number, userIdLengths: number): Promise<number> {
  const { encoder, decode } = await searchEncoder();
  let decoded = 0;
  for (let length = 1; length <= userIdLengths; length++) {
    const sink = new ByteSink(FRESH_BATCH_BYTES);
    const userId = 'u'.repeat(length);
    for (let seq = 0; seq < perBatch; seq++) encoder.append(sink, searchEvent(`${seq}:`.padEnd(100, 'q'), userId), seq, RECEIVE_US + seq, undefined);
    const records = decode(sink.bytes());
    assert.equal(records.length, perBatch);
    records.forEach((r, seq) => {
      assert.equal(r.query, `${seq}:`.padEnd(100, 'q'));
      assert.equal(r.user_id, userId);
    });
    decoded += records.length;
  }
  return decoded;
}

/** One event of about `bytes` bytes (its query) into a fresh 64 KiB batch buffer. Returns the query's length decoded. */
export async function appendOneLargeEvent(bytes: number): Promise<number> {
  const { encoder, decode } = await searchEncoder();
  const sink = new ByteSink(FRESH_BATCH_BYTES);
  const query = 'x'.repeat(bytes);
  encoder.append(sink, searchEvent(query), 0, RECEIVE_US, undefined);
  const [record] = decode(sink.bytes());
  assert.equal(record?.query, query);
  return (record!.query as string).length;
}

/**
 * The same event appended to a 64 KiB buffer already holding every length from `FRESH_BATCH_BYTES - span`
 * to `FRESH_BATCH_BYTES`: every amount of free space, from plenty to none, including those just short
 * of the event's size. Returns how many appends decoded correctly.
 */
export async function appendAtEveryFillState(span: number): Promise<number> {
  const { encoder, decode } = await searchEncoder();
  const payload = searchEvent('q'.repeat(100));
  let ok = 0;
  for (let filled = FRESH_BATCH_BYTES - span; filled <= FRESH_BATCH_BYTES; filled++) {
    const sink = new ByteSink(FRESH_BATCH_BYTES);
    sink.buf.fill(0xa5, 0, filled);
    sink.length = filled;
    const size = encoder.append(sink, payload, 7, RECEIVE_US, undefined);
    assert.equal(sink.length, filled + size);
    assert.ok(sink.buf.subarray(0, filled).every((b) => b === 0xa5), `the ${filled} bytes already there are kept`);
    const [record] = decode(sink.bytes().subarray(filled));
    assert.equal(record?.query, payload.query, `after ${filled} bytes`);
    ok++;
  }
  return ok;
}

/** A sink created with no room at all. Returns the event id decoded. */
export async function appendToEmptySink(): Promise<string> {
  const { encoder, decode } = await searchEncoder();
  const sink = new ByteSink(0);
  encoder.append(sink, searchEvent('hello'), 3, RECEIVE_US, undefined);
  return decode(sink.bytes())[0]!.event_id as string;
}

/**
 * A payload whose encoding grows every time it is read (a getter), so it overflows again after the
 * buffer grew: append must refuse with HG_INTERNAL and leave the batch as it was. Returns the error's code.
 */
export async function appendShiftingPayload(): Promise<{ code: string; lengthKept: boolean }> {
  const { encoder } = await searchEncoder();
  const sink = new ByteSink(FRESH_BATCH_BYTES);
  encoder.append(sink, searchEvent('before'), 0, RECEIVE_US, undefined);
  const before = sink.length;
  let reads = 0;
  const shifting = { ...searchEvent(''), get query() {
    reads++;
    return 'z'.repeat(FRESH_BATCH_BYTES * 2 ** reads);
  } };
  try {
    encoder.append(sink, shifting, 1, RECEIVE_US, undefined);
  } catch (err) {
    return { code: (err as { code?: string }).code ?? String(err), lengthKept: sink.length === before };
  }
  return { code: 'none', lengthKept: sink.length === before };
}
