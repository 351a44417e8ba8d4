// The <hour> argument: every accepted form, and the mistakes it refuses with a usage error (exit 2).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../services/cli/cli-error.ts';
import { formatWindow, parseWindowArg } from '../../services/cli/window-arg.ts';

const HOUR_21 = Date.UTC(2026, 10, 22, 21) / 1000;

describe('parseWindowArg', () => {
  const cases: Array<[string, number, number]> = [
    ['2026-11-22T21', 3600, HOUR_21 / 3600],
    ['2026-11-22/21', 3600, HOUR_21 / 3600],
    ['2026-11-22T21:00:00Z', 3600, HOUR_21 / 3600],
    ['20261122T210000Z', 3600, HOUR_21 / 3600],
    ['dt=2026-11-22/hour=21/', 3600, HOUR_21 / 3600],
    ['track_played/dt=2026-11-22/hour=21', 3600, HOUR_21 / 3600],
    ['2026-11-22T20', 7200, (HOUR_21 - 3600) / 7200],
    ['2026-11-22T21:52:24Z', 2, (HOUR_21 + 52 * 60 + 24) / 2],
    ['2026-11-22T21:52:24.000Z', 2, (HOUR_21 + 52 * 60 + 24) / 2],
    ['2026-11-22T21:52', 60, (HOUR_21 + 52 * 60) / 60],
    ['dt=2026-11-22/hour=21/minute=52/second=24', 2, (HOUR_21 + 52 * 60 + 24) / 2],
  ];
  for (const [text, windowS, index] of cases) {
    it(`${text} with ${windowS} s windows is window ${index}`, () => assert.equal(parseWindowArg(text, windowS), index));
  }

  const bad: Array<[string, number, RegExp]> = [
    ['yesterday', 3600, /bad <hour> "yesterday": expected/],
    ['2026-13-01T00', 3600, /not a valid UTC time/],
    ['2026-11-31T00', 3600, /not a valid UTC time/],
    ['2026-11-22T24', 3600, /not a valid UTC time/],
    ['2026-11-22T21:52:24.5Z', 2, /whole second/],
    ['2026-11-22T21', 2, /names an hour, but windows are 2 s long: name one window by its start, e.g. 2026-11-22T21:00:00Z/],
    ['2026-11-22T21:52:25Z', 2, /not the start of a 2 s window; the window holding it starts at 2026-11-22T21:52:24Z/],
    ['2026-11-22T21', 7200, /not the start of a 7200 s window; the window holding it starts at 2026-11-22T20/],
  ];
  for (const [text, windowS, message] of bad) {
    it(`refuses ${text} with ${windowS} s windows`, () => {
      assert.throws(() => parseWindowArg(text, windowS), (err: unknown) => err instanceof UsageError && err.exitCode === 2 && message.test(err.message));
    });
  }

  it('formatWindow prints what parseWindowArg reads back', () => {
    for (const windowS of [2, 10, 60, 3600, 7200, 86_400]) {
      const index = Math.floor(HOUR_21 / windowS) + 3;
      assert.equal(parseWindowArg(formatWindow(index, windowS), windowS), index, `${windowS} s: ${formatWindow(index, windowS)}`);
    }
    assert.equal(formatWindow(HOUR_21 / 3600, 3600), '2026-11-22T21');
    assert.equal(formatWindow((HOUR_21 + 4) / 2, 2), '2026-11-22T21:00:04Z');
  });
});
