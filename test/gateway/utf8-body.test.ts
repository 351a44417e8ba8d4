// Bodies that are not UTF-8 (services/gateway/utf8-body.ts): the scan agrees with Node's and WHATWG's strict decoders, and bad bytes spliced into any string or key of any event are named by event index, field path and byte offset.
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { HourglassError } from '../../services/errors/catalogue.ts';
import { assertUtf8Body, invalidSequences, type BytesProblem } from '../../services/gateway/utf8-body.ts';
import { Registry, type SchemaVersion } from '../../services/registry/registry.ts';
import { validValue } from '../helpers/value-arbitraries.ts';
import { FIXTURE_SCHEMAS_DIR } from '../helpers/fixture-schemas.ts';
import { jsonText, toGatewayJson } from '../helpers/gateway-json.ts';

const SEED = 20_240_614;

/** Byte sequences no UTF-8 decoder may accept: a stray continuation, an overlong "/", an encoded surrogate, a cut sequence, past U+10FFFF, 0xFF. */
const BAD = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xf0, 0x9f, 0x98]];

/** Text, UTF-8 or not. */
const someBytes = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }).map((s) => [...Buffer.from(s)]), fc.constantFrom(...BAD), fc.uint8Array({ maxLength: 3 }).map((a) => [...a])), { maxLength: 8 }).map((parts) => Buffer.from(parts.flat()));

function refusal(body: Buffer): HourglassError {
  try {
    assertUtf8Body(body);
  } catch (err) {
    assert.ok(err instanceof HourglassError);
    return err;
  }
  assert.fail('the body was accepted');
}

describe('request bodies that are not UTF-8', () => {
  it('the scan finds a bad sequence exactly when Node (simdutf) and WHATWG TextDecoder refuse the bytes', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(someBytes, (bytes) => {
        const bad = invalidSequences(bytes);
        let decodes = true;
        try {
          strict.decode(bytes);
        } catch {
          decodes = false;
        }
        assert.equal(bad.length === 0, isUtf8(bytes));
        assert.equal(bad.length === 0, decodes);
        let end = 0;
        for (const s of bad) {
          assert.ok(s.start >= end && s.end > s.start && s.end <= bytes.length, 'sequences are in order, apart, and inside the bytes');
          end = s.end;
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  describe('named by event, field and offset', () => {
    let versions: SchemaVersion[] = [];
    before(async () => {
      versions = [(await Registry.load()).require('search_performed').latest, (await Registry.load(FIXTURE_SCHEMAS_DIR)).require('every_type').latest];
    });

    it('bad bytes in any string value or key of any event are reported at that event and path, and nowhere else', () => {
      for (const version of versions) {
        const events = fc.array(fc.tuple(validValue(version.payloadTree, { huge: false, maxLength: 4 }), fc.option(fc.string({ minLength: 1, maxLength: 8 }))), { minLength: 1, maxLength: 4 });
        fc.assert(
          fc.property(events, fc.nat(), fc.constantFrom(...BAD), (list, pick, bad) => {
            const body = list.map(([payload, eventId]) => ({ payload: toGatewayJson(version.payloadTree, payload), ...(eventId === null ? {} : { event_id: eventId }) }));
            const places = stringPlaces(body);
            const place = places[pick % places.length]!;
            const text = Buffer.from(jsonText(markAt(body, place)));
            const marker = Buffer.from(JSON.stringify(MARK).slice(1, -1));
            const at = text.indexOf(marker);
            const damaged = Buffer.concat([text.subarray(0, at), Buffer.from(bad), text.subarray(at + marker.length)]);
            const err = refusal(damaged);
            assert.equal(err.code, 'HG_INVALID_EVENT', err.message);
            const details = err.details as BytesProblem[];
            assert.deepEqual(
              details.map((d) => [d.index, d.path, d.position]),
              [[place.index, place.path, at]],
            );
            assert.match(details[0]!.message, new RegExp(`^${place.inKey ? 'a key holds' : 'holds'} bytes that are not UTF-8 \\(0x${bad[0]!.toString(16).toUpperCase()}.* at byte ${at} of the body\\)$`));
            assertUtf8Body(text); // the same body without the bad bytes passes
          }),
          { seed: SEED, numRuns: 300 },
        );
      }
    });

    it('bad bytes outside any event\'s strings are named by offset, line and column', () => {
      const err = refusal(Buffer.concat([Buffer.from('[\n  {"payload": {}},\n  '), Buffer.from([0xff]), Buffer.from(']')]));
      assert.equal(err.code, 'HG_BAD_REQUEST');
      assert.equal(err.message, 'request body is not UTF-8: 0xFF at byte 23 (line 3, column 3)');
      assert.deepEqual(err.details, { reason: 'not UTF-8', position: 23, line: 3, column: 3 });
    });
  });
});

const MARK = '\u0001MARK\u0001';

interface Place {
  readonly index: number;
  readonly path: string;
  readonly inKey: boolean;
  /** Steps from the body to the string (or to the object whose key it is). */
  readonly steps: readonly (string | number)[];
  readonly key?: string;
}

/** Every string value and object key inside the events, with the event index and path the gateway must name. */
function stringPlaces(body: unknown[]): Place[] {
  const out: Place[] = [];
  const walk = (value: unknown, steps: (string | number)[]) => {
    const index = steps[0] as number;
    const path = steps.slice(1).join('.');
    if (typeof value === 'string') out.push({ index, path, inKey: false, steps });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...steps, i]));
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        out.push({ index, path, inKey: true, steps, key: k });
        walk(v, [...steps, k]);
      }
    }
  };
  body.forEach((event, i) => walk(event, [i]));
  return out;
}

/** A copy of `body` with MARK appended to the string (or key) at `place`. */
function markAt(body: unknown[], place: Place): unknown {
  const copy = structuredClone(body) as unknown[];
  let parent: Record<string | number, unknown> = copy as unknown as Record<number, unknown>;
  for (const step of place.steps.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = place.steps.at(-1)!;
  if (!place.inKey) {
    parent[last] = `${parent[last] as string}${MARK}`;
    return copy;
  }
  const object = parent[last] as Record<string, unknown>;
  const renamed = Object.fromEntries(Object.entries(object).map(([k, v]) => [k === place.key ? `${k}${MARK}` : k, v]));
  parent[last] = renamed;
  return copy;
}
