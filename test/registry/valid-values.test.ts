// One definition of valid, shown as properties over every shipped schema and the every-type fixture: what the SDK's check accepts is what avsc delivers unchanged and the worker's proof accepts; what it refuses could not have been; and the worker's proof refuses exactly the bytes no valid value encodes to.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { validatePayload } from '../../services/registry/payload-validator.ts';
import { Registry, type SchemaVersion } from '../../services/registry/registry.ts';
import { compileSkipper, proveRecordCount, type Skipper } from '../../services/wire/record-skipper.ts';
import { deliveredValue, nearMiss, plainValue, validValue } from '../helpers/value-arbitraries.ts';
import { encodedValue } from '../helpers/encoded-value-arbitraries.ts';
import { FIXTURE_SCHEMAS_DIR } from '../helpers/fixture-schemas.ts';

/** Fixed seeds: a failure replays exactly (fast-check prints the seed and the shrunk counterexample). */
const SEED = 20_240_612;

interface Case {
  readonly label: string;
  readonly version: SchemaVersion;
  readonly payloadSkipper: Skipper;
  readonly deliveredSkipper: Skipper;
}

async function cases(): Promise<Case[]> {
  const registries = [await Registry.load(), await Registry.load(FIXTURE_SCHEMAS_DIR)];
  return registries.flatMap((r) =>
    r.types().flatMap((t) =>
      t.versions.map((version) => ({
        label: `${t.name} v${version.version}`,
        version,
        payloadSkipper: compileSkipper(version.payloadSchema),
        deliveredSkipper: compileSkipper(version.deliveredSchema),
      })),
    ),
  );
}

/** The delivered record of a payload, as the SDK encodes it (identity fields first). */
function deliveredBytes(version: SchemaVersion, payload: object): Buffer {
  return version.deliveredType.toBuffer({ event_id: 'p-7', receive_time: 1_718_000_000_000_000, publisher: 'p', seq: 7, ...payload });
}

/** Whether avsc writes `value` and reads it back exactly as documented, and the worker's proof accepts the record. */
function deliveredUnchanged(c: Case, value: unknown): boolean {
  let expected: unknown;
  let bytes: Buffer;
  try {
    expected = deliveredValue(c.version.payloadTree, value);
    bytes = c.version.payloadType.toBuffer(value);
  } catch {
    return false;
  }
  try {
    assert.deepStrictEqual(plainValue(c.version.payloadType.fromBuffer(bytes)), expected);
  } catch {
    return false;
  }
  return proveRecordCount(c.payloadSkipper, bytes, 1).ok;
}

describe('one definition of valid (property-based, every schema)', () => {
  let all: Case[] = [];
  before(async () => {
    all = await cases();
  });

  it('covers the shipped types and the every-type fixture', () => {
    assert.deepEqual(
      all.map((c) => c.label),
      ['search_performed v1', 'track_played v1', 'track_played v2', 'ui_interaction v1', 'every_type v1', 'every_type v2'],
    );
  });

  it('a valid value passes the SDK check, is delivered unchanged (avsc round trip), and the worker proves its record', () => {
    for (const c of all) {
      fc.assert(
        fc.property(validValue(c.version.payloadTree), (payload) => {
          assert.deepEqual(validatePayload(c.version, payload), [], c.label);
          assert.ok(deliveredUnchanged(c, payload), `${c.label}: not delivered unchanged`);
          const proof = proveRecordCount(c.deliveredSkipper, deliveredBytes(c.version, payload as object), 1);
          assert.deepEqual(proof, { ok: true }, c.label);
        }),
        { seed: SEED, numRuns: 150 },
      );
    }
  });

  it('a value with one fault is refused at the fault\'s path, and is a value the pipeline could not have delivered unchanged', () => {
    for (const c of all) {
      fc.assert(
        fc.property(nearMiss(c.version.payloadTree), (miss) => {
          const problems = validatePayload(c.version, miss.value);
          assert.ok(
            problems.some((p) => p.path === miss.path),
            `${c.label}: ${miss.fault} at "${miss.path}" not reported; got ${JSON.stringify(problems)}`,
          );
          for (const p of problems) assert.match(p.message, /^(expected |is not a field|the key )/);
          assert.equal(deliveredUnchanged(c, miss.value), false, `${c.label}: ${miss.fault} at "${miss.path}" would have been delivered unchanged`);
        }),
        { seed: SEED, numRuns: 300 },
      );
    }
  });

  it('a name every object inherits, given as a wrapped union\'s branch, is a fault at the union, not a crash (avsc\'s isValid threw a TypeError: a 500 at the gateway)', () => {
    const every = all.find((c) => c.label === 'every_type v2')!.version;
    const valid = fc.sample(validValue(every.payloadTree, { huge: false }), { seed: SEED, numRuns: 1 })[0] as Record<string, unknown>;
    for (const branch of [{ toString: 1 }, { constructor: 5 }, { __proto__: null, valueOf: 1 }]) {
      const problems = validatePayload(every, { ...valid, int_or_long: branch });
      assert.deepEqual(problems.map((p) => p.path), ['int_or_long'], JSON.stringify(problems));
      assert.match(problems[0]!.message, /^expected an int .* or a long .*, written \{"<branch name>": value\}, got an object$/);
    }
  });

  it('the worker\'s proof accepts exactly the bytes that some valid value encodes to', () => {
    for (const c of all) {
      fc.assert(
        fc.property(encodedValue(c.version.payloadTree), (bytes) => {
          const proved = proveRecordCount(c.payloadSkipper, bytes, 1).ok;
          assert.equal(proved, encodesValidValue(c, bytes), `${c.label}: proof says ${proved} for ${bytes.toString('hex')}`);
        }),
        { seed: SEED, numRuns: 500 },
      );
    }
  });
});

/** Whether avsc reads `bytes` as one value that the SDK check accepts and that avsc writes back as the same bytes. */
function encodesValidValue(c: Case, bytes: Buffer): boolean {
  let value: unknown;
  try {
    const decoded = c.version.payloadType.decode(bytes, 0);
    if (decoded.offset !== bytes.length) return false;
    value = decoded.value;
  } catch {
    return false;
  }
  if (validatePayload(c.version, value).length > 0) return false;
  try {
    return c.version.payloadType.toBuffer(value).equals(bytes);
  } catch {
    return false;
  }
}
