// What the table records of its windows: a window is committed when a snapshot names it or it ends by closed-through, which only advances over consecutive committed windows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closedThroughAfter, isCommitted, PROPERTY, SUMMARY } from '../../services/table/hour-table.ts';
import type { TableMetadata } from '../../services/table/rest-catalog.ts';
import type { WindowClosedEvent } from '../../services/wire/window-closed-event.ts';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const event = (i: number): WindowClosedEvent => ({ windowStart: iso(T0 + i * 3_600_000), windowEnd: iso(T0 + (i + 1) * 3_600_000), windowS: 3600 }) as WindowClosedEvent;

function table(committed: number[], closedThrough?: number): TableMetadata {
  return {
    'format-version': 2,
    'table-uuid': 'u',
    location: 'file:///t',
    'last-column-id': 1,
    'current-schema-id': 0,
    schemas: [],
    snapshots: committed.map((i, n) => ({ 'snapshot-id': n + 1, 'timestamp-ms': 0, 'manifest-list': '', summary: { operation: 'append', [SUMMARY.window]: event(i).windowStart } })),
    properties: closedThrough === undefined ? {} : { [PROPERTY.closedThrough]: event(closedThrough).windowEnd },
  };
}

describe('closed-through and committed windows', () => {
  it('the first window sets closed-through to its end; the next consecutive one moves it on', () => {
    assert.equal(closedThroughAfter(table([]), event(0)), event(0).windowEnd);
    assert.equal(closedThroughAfter(table([0]), event(1)), event(1).windowEnd);
  });

  it('advances over a run of windows committed out of order, and stops at the first gap', () => {
    assert.equal(closedThroughAfter(table([0, 2, 3], 0), event(1)), event(3).windowEnd);
    assert.equal(closedThroughAfter(table([0, 3], 0), event(1)), event(1).windowEnd);
    assert.equal(closedThroughAfter(table([0, 3], 0), event(4)), event(0).windowEnd);
  });

  it('a window committed late below closed-through leaves it where it is', () => {
    assert.equal(closedThroughAfter(table([5, 6], 6), event(2)), event(6).windowEnd);
  });

  it('a window is committed when a snapshot names it or when it ends by closed-through (its snapshot expired)', () => {
    assert.equal(isCommitted(table([3]), event(3)), true);
    assert.equal(isCommitted(table([3]), event(4)), false);
    assert.equal(isCommitted(table([], 6), event(2)), true);
    assert.equal(isCommitted(table([], 6), event(6)), true);
    assert.equal(isCommitted(table([], 6), event(7)), false);
  });
});
