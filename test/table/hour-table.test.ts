// What the table records of its windows: a window is committed when a snapshot names it or it lies in [first-window, closed-through), a range that only grows over consecutive committed windows — and never covers a window that closed later but ended earlier.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { committedRangeAfter, isCommitted, PROPERTY, SUMMARY } from '../../services/table/hour-table.ts';
import type { TableMetadata } from '../../services/table/rest-catalog.ts';
import type { WindowClosedEvent } from '../../services/wire/window-closed-event.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const event = (i: number): WindowClosedEvent => ({ windowStart: iso(T0 + i * 3_600_000), windowEnd: iso(T0 + (i + 1) * 3_600_000), windowS: 3600 }) as WindowClosedEvent;

/** A table whose snapshots name windows `committed`, with its range properties when given. */
function table(committed: number[], range?: { first: number; through: number }): TableMetadata {
  return {
    'format-version': 2,
    'table-uuid': 'u',
    location: 'file:///t',
    'last-column-id': 1,
    'current-schema-id': 0,
    schemas: [],
    snapshots: committed.map((i, n) => ({ 'snapshot-id': n + 1, 'timestamp-ms': 0, 'manifest-list': '', summary: { operation: 'append', [SUMMARY.window]: event(i).windowStart } })),
    properties: range === undefined ? {} : { [PROPERTY.firstWindow]: event(range.first).windowStart, [PROPERTY.closedThrough]: event(range.through).windowEnd },
  };
}

const range = (first: number, through: number) => ({ firstWindow: event(first).windowStart, closedThrough: event(through).windowEnd });

describe('the committed range of a table', () => {
  it('the first window starts the range and ends it; the next consecutive one moves the end on', () => {
    assert.deepEqual(committedRangeAfter(table([]), event(3)), range(3, 3));
    assert.deepEqual(committedRangeAfter(table([3], { first: 3, through: 3 }), event(4)), range(3, 4));
  });

  it('the end moves over a run committed out of order, and stops at the first gap', () => {
    assert.deepEqual(committedRangeAfter(table([0, 2, 3], { first: 0, through: 0 }), event(1)), range(0, 3));
    assert.deepEqual(committedRangeAfter(table([0, 3], { first: 0, through: 0 }), event(1)), range(0, 1));
    assert.deepEqual(committedRangeAfter(table([0, 3], { first: 0, through: 0 }), event(4)), range(0, 0));
  });

  it('a window that ended before the first one, committed later, leaves the range as it is', () => {
    assert.deepEqual(committedRangeAfter(table([5, 6], { first: 5, through: 6 }), event(2)), range(5, 6));
  });

  it('a window is committed when a snapshot names it, or when it lies in the range (its snapshot expired)', () => {
    assert.equal(isCommitted(table([3]), event(3)), true);
    assert.equal(isCommitted(table([3]), event(4)), false);
    assert.equal(isCommitted(table([], { first: 2, through: 6 }), event(2)), true);
    assert.equal(isCommitted(table([], { first: 2, through: 6 }), event(6)), true);
    assert.equal(isCommitted(table([], { first: 2, through: 6 }), event(7)), false);
  });

  it('a window that ended before the first committed one is not taken as committed (it waited out its max wait while later ones closed)', () => {
    // Window 4 waits for a dead publisher; 5 and 6 close and commit first.
    const after56 = table([5, 6], { first: 5, through: 6 });
    assert.equal(isCommitted(after56, event(4)), false, 'window 4 still gets its commit');
    assert.equal(isCommitted(after56, event(1)), false);
  });
});
