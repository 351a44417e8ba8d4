// The progress bar draws on a terminal only, throttled, and erases itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, Progress } from '../../services/cli/progress.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 80, writes, write: (s: string) => (writes.push(s), true) };
}

describe('Progress', () => {
  it('writes nothing when the stream is not a terminal', () => {
    const stream = fakeStream(false);
    const p = new Progress(stream, 'cat', 100, { unit: 'records' });
    p.add(50);
    p.clear();
    assert.equal(p.active, false);
    assert.deepEqual(stream.writes, []);
  });

  it('on a terminal: draws a bar with percent and counts, at most once per redraw interval, and erases it', () => {
    const stream = fakeStream(true);
    let now = 0;
    const p = new Progress(stream, 'cat x', 200, { unit: 'records', redrawMs: 100, now: () => now });
    p.add(50);
    p.add(10); // within the interval: not drawn
    now = 150;
    p.add(40);
    assert.equal(stream.writes.length, 2);
    assert.ok(stream.writes[1]!.startsWith('\r') && stream.writes[1]!.endsWith('\x1b[K'), 'redrawn in place');
    assert.match(stream.writes[1]!.slice(1, -3), /^cat x \[#+\.+\] {2}50% 100\/200 records +\d+\/s$/);
    assert.ok(stream.writes[1]!.length <= 80 + 5);
    p.clear();
    assert.equal(stream.writes.at(-1), '\r\x1b[K');
  });

  it('bytes print in binary units; an unknown total prints a running count', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
    const p = new Progress(fakeStream(true), 'checking', undefined, { unit: 'bytes', now: () => 1000 });
    p.add(2048);
    assert.match(p.render(2000), /^checking 2\.0 KiB /);
  });
});
