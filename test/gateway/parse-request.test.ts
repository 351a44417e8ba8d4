// Request parsing: the version parameter, the content type, and the body shape (every faulty event listed, all or nothing).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { HourglassError } from '../../services/errors/catalogue.ts';
import { assertJsonContentType, fromSdkProblems, parseEventsBody, parseVersionParam, type RequestProblem } from '../../services/gateway/parse-request.ts';
import { Registry, type SchemaVersion } from '../../services/registry/registry.ts';
import { trackPlayed } from '../helpers/sample-events.ts';

function thrown(fn: () => unknown): HourglassError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HourglassError, `expected a HourglassError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('parseVersionParam', () => {
  it('accepts nothing or one positive integer', () => {
    assert.equal(parseVersionParam(undefined), undefined);
    assert.equal(parseVersionParam('2'), 2);
  });
  for (const bad of ['0', '-1', 'x', '1.5', '', ['1', '2']]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      const err = thrown(() => parseVersionParam(bad));
      assert.equal(err.code, 'HG_BAD_REQUEST');
      assert.match(err.message, /"version" must be one positive integer/);
    });
  }
});

describe('assertJsonContentType', () => {
  for (const ok of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"']) {
    it(`accepts ${ok}`, () => assertJsonContentType(ok));
  }
  const cases: Array<[string | undefined, RegExp]> = [
    [undefined, /missing Content-Type/],
    ['text/plain', /unsupported Content-Type "text\/plain"/],
    ['application/x-www-form-urlencoded', /unsupported Content-Type/],
    ['application/json; charset=latin1', /unsupported charset "latin1"/],
  ];
  for (const [contentType, message] of cases) {
    it(`refuses ${String(contentType)} with 415`, () => {
      const err = thrown(() => assertJsonContentType(contentType));
      assert.equal(err.code, 'HG_BAD_CONTENT_TYPE');
      assert.equal(err.httpStatus, 415);
      assert.match(err.message, message);
    });
  }
});

describe('parseEventsBody', () => {
  let v2: SchemaVersion;
  const limits = { maxEventsPerRequest: 5 };
  before(async () => {
    v2 = (await Registry.load()).require('track_played').latest;
  });

  it('maps events to publisher items, keeping client event ids', () => {
    const items = parseEventsBody([{ payload: trackPlayed(1) }, { payload: trackPlayed(2), event_id: 'client-2' }], v2, limits);
    assert.deepEqual(items, [{ payload: trackPlayed(1) }, { payload: trackPlayed(2), eventId: 'client-2' }]);
  });

  it('leaves the schema check of well-shaped events to the publisher (no double validation)', () => {
    const items = parseEventsBody([{ payload: { not: 'checked here' } }], v2, limits);
    assert.equal(items.length, 1);
  });

  it('refuses a body that is not an array, hinting when it wraps one', () => {
    assert.match(thrown(() => parseEventsBody({ payload: {} }, v2, limits)).message, /must be a JSON array of events/);
    const wrapped = thrown(() => parseEventsBody({ events: [] }, v2, limits));
    assert.equal(wrapped.code, 'HG_BAD_REQUEST');
    assert.match(wrapped.message, /send the array itself/);
  });

  it('refuses an empty array', () => {
    const err = thrown(() => parseEventsBody([], v2, limits));
    assert.equal(err.code, 'HG_BAD_REQUEST');
    assert.match(err.message, /no events/);
  });

  it('refuses more events than the limit with 413', () => {
    const err = thrown(() => parseEventsBody(Array.from({ length: 6 }, (_, i) => ({ payload: trackPlayed(i) })), v2, limits));
    assert.equal(err.code, 'HG_BODY_TOO_LARGE');
    assert.equal(err.httpStatus, 413);
    assert.deepEqual(err.details, { events: 6, limit: 5 });
  });

  it('lists every faulty event, shape and schema alike, by index and path', () => {
    const err = thrown(() =>
      parseEventsBody(
        [
          { payload: trackPlayed(0) },
          'not an event',
          { payload: trackPlayed(2), extra: true },
          { event_id: 'x' },
          { payload: { ...trackPlayed(4), ms_played: 'long' }, event_id: '' },
          { payload: { ...trackPlayed(5), receive_time: 1 } },
        ],
        v2,
        { maxEventsPerRequest: 10 },
      ),
    );
    assert.equal(err.code, 'HG_INVALID_EVENT');
    assert.equal(err.httpStatus, 400);
    const problems = err.details as RequestProblem[];
    const at = (index: number) => problems.filter((p) => p.index === index).map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(at(0), []);
    assert.deepEqual(at(1), [': an event must be an object with "payload" (and optionally "event_id"), got a string']);
    assert.deepEqual(at(2), ['extra: is not allowed: an event has only "payload" and "event_id"']);
    assert.deepEqual(at(3), ['payload: is required']);
    const four = at(4);
    assert.ok(four.includes('event_id: must be a non-empty string of at most 256 characters'), four.join('\n'));
    assert.ok(four.some((p) => p.startsWith('payload.ms_played: expected')), four.join('\n'));
    assert.deepEqual(at(5), ['payload.receive_time: is not a field of the schema'], 'the client cannot send its own receive time');
    assert.match(err.message, /^5 invalid events, none accepted; first: event 1 /);
  });

  it('checks client event ids: strings of 1..256 characters', () => {
    const ok = 'e'.repeat(256);
    assert.equal(parseEventsBody([{ payload: trackPlayed(0), event_id: ok }], v2, limits)[0]!.eventId, ok);
    for (const bad of ['', 'e'.repeat(257), 42, null]) {
      const err = thrown(() => parseEventsBody([{ payload: trackPlayed(0), event_id: bad }], v2, limits));
      assert.deepEqual((err.details as RequestProblem[]).map((p) => p.path), ['event_id']);
    }
  });
});

describe('fromSdkProblems', () => {
  it('re-bases payload paths onto the request event', () => {
    assert.deepEqual(
      fromSdkProblems([
        { index: 3, path: 'ms_played', message: 'bad' },
        { index: 4, path: '', message: 'not an object' },
      ]),
      [
        { index: 3, path: 'payload.ms_played', message: 'bad' },
        { index: 4, path: 'payload', message: 'not an object' },
      ],
    );
  });
});
