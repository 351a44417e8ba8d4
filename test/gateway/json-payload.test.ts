// The gateway's JSON mapping (services/gateway/json-payload.ts) against the documented one (test/helpers/gateway-json.ts): every valid value round-trips exactly through JSON text, every near miss is refused at its JSON path, and for schemas mapped as they are the SDK's validator agrees.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonIsIdentity, payloadFromJson } from '../../services/gateway/json-payload.ts';
import { validatePayload } from '../../services/registry/payload-validator.ts';
import { Registry, type SchemaVersion } from '../../services/registry/registry.ts';
import { plainValue, validValue } from '../helpers/value-arbitraries.ts';
import { jsonNearMisses, jsonText, toGatewayJson } from '../helpers/gateway-json.ts';
import { FIXTURE_SCHEMAS_DIR } from '../helpers/fixture-schemas.ts';

const SEED = 20_240_613;

describe('gateway JSON mapping (property-based, every schema)', () => {
  let versions: Array<{ label: string; version: SchemaVersion }> = [];
  let everyType: SchemaVersion;
  before(async () => {
    const registries = [await Registry.load(), await Registry.load(FIXTURE_SCHEMAS_DIR)];
    versions = registries.flatMap((r) => r.types().flatMap((t) => t.versions.map((version) => ({ label: `${t.name} v${version.version}`, version }))));
    everyType = registries[1]!.require('every_type').latest;
  });

  it('the shipped schemas are sent as they are published; the every-type fixture needs the mapping', () => {
    assert.deepEqual(
      versions.map((v) => [v.label, jsonIsIdentity(v.version)]),
      [
        ['search_performed v1', true],
        ['track_played v1', true],
        ['track_played v2', true],
        ['ui_interaction v1', true],
        ['every_type v1', false],
        ['every_type v2', false],
      ],
    );
  });

  it('a valid value, written as the README says and parsed from JSON text, becomes exactly the value the SDK publishes', () => {
    for (const { label, version } of versions) {
      fc.assert(
        fc.property(validValue(version.payloadTree), (value) => {
          const parsed: unknown = JSON.parse(jsonText(toGatewayJson(version.payloadTree, value)));
          const mapped = payloadFromJson(version, parsed);
          assert.ok(mapped.ok, `${label}: ${JSON.stringify(!mapped.ok && mapped.problems)}`);
          assert.deepStrictEqual(plainValue(mapped.value), plainValue(value), label);
          assert.deepEqual(validatePayload(version, mapped.value), [], label);
          if (jsonIsIdentity(version)) assert.equal(mapped.value, parsed, `${label}: the identity mapping copies nothing`);
        }),
        { seed: SEED, numRuns: 120 },
      );
    }
  });

  it('JSON with one fault is refused at its path; where the mapping is the identity, the SDK validator refuses it at the same path', () => {
    for (const { label, version } of versions) {
      fc.assert(
        fc.property(validValue(version.payloadTree, { huge: false }), fc.nat(), (value, pick) => {
          const misses = jsonNearMisses(version.payloadTree, toGatewayJson(version.payloadTree, value));
          const miss = misses[pick % misses.length]!;
          const parsed: unknown = JSON.parse(jsonText(miss.json));
          const mapped = payloadFromJson(version, parsed);
          assert.equal(mapped.ok, false, `${label}: ${miss.fault} at "${miss.path}" was accepted`);
          if (mapped.ok) return;
          assert.ok(mapped.problems.some((p) => p.path === miss.path), `${label}: ${miss.fault} at "${miss.path}" reported as ${JSON.stringify(mapped.problems)}`);
          for (const p of mapped.problems) assert.match(p.message, /^(expected |is not a field|the key )/);
          if (jsonIsIdentity(version)) {
            assert.ok(validatePayload(version, parsed).some((p) => p.path === miss.path), `${label}: the SDK validator disagrees on ${miss.fault} at "${miss.path}"`);
          }
        }),
        { seed: SEED, numRuns: 300 },
      );
    }
  });

  describe('the documented mapping, by example (every_type)', () => {
    const base = () => JSON.parse(jsonText(toGatewayJson(everyType.payloadTree, fc.sample(validValue(everyType.payloadTree, { huge: false }), { seed: 1, numRuns: 1 })[0]))) as Record<string, unknown>;
    const map = (patch: Record<string, unknown>) => payloadFromJson(everyType, { ...base(), ...patch });
    const value = (patch: Record<string, unknown>) => {
      const mapped = map(patch);
      assert.ok(mapped.ok, JSON.stringify(!mapped.ok && mapped.problems));
      return mapped.value as Record<string, unknown>;
    };
    const problem = (patch: Record<string, unknown>) => {
      const mapped = map(patch);
      assert.equal(mapped.ok, false);
      return mapped.ok ? [] : mapped.problems.map((p) => `${p.path}: ${p.message}`);
    };

    it('bytes and fixed are base64; a uuid fixed is UUID text; decimals are decimal strings', () => {
      const v = value({ raw: 'AAEC/w==', digest: Buffer.alloc(16, 7).toString('base64'), id_fixed: '0F8FAD5B-D9CB-469F-A165-70867728950E', amount: '-12.5', price: '0.01' });
      assert.deepEqual(v.raw, Buffer.from([0, 1, 2, 255]));
      assert.deepEqual(v.id_fixed, Buffer.from('0f8fad5bd9cb469fa16570867728950e', 'hex'));
      assert.deepEqual(v.amount, Buffer.from([0xfe, 0x17, 0xb8]), '-125000 at scale 4, shortest two\'s complement');
      assert.deepEqual(v.price, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), 'a fixed decimal is sign-extended to its size');
      assert.deepEqual(problem({ raw: 'AAEC/w' }), ['raw: expected bytes as a base64 string, got the string "AAEC/w": not canonical base64 (A-Z a-z 0-9 + /, padded with =)']);
      assert.deepEqual(problem({ amount: 12.5 }), ['amount: expected a decimal(20, 4) as a string such as "-12.5", got number 12.5: a JSON number is a double and may have lost digits; send the decimal as a string']);
      assert.deepEqual(problem({ price: '0.001' }), ['price: expected a decimal(18, 2) as a string such as "-12.5", got the string "0.001": more than 2 digits after the point']);
    });

    it('floats and doubles are numbers or "NaN", "Infinity", "-Infinity"; a number past the double range is refused, not made infinite', () => {
      const v = value({ ratio: 'NaN', precise: '-Infinity', maybe_ratio: 'Infinity' });
      assert.ok(Number.isNaN(v.ratio));
      assert.equal(v.precise, -Infinity);
      assert.equal(v.maybe_ratio, Infinity, 'a bare ["null", "float"] takes the special strings too');
      assert.deepEqual(problem({ precise: JSON.parse('1e400') }), ['precise: expected a double (a JSON number, or "NaN", "Infinity" or "-Infinity"), got number Infinity: a JSON number too large for a double']);
      assert.deepEqual(problem({ ratio: 1e39 }), ['ratio: expected a float (a JSON number, or "NaN", "Infinity" or "-Infinity"), got number 1e+39: beyond the largest float (±3.4028234663852886e+38)']);
    });

    it('a union is bare when JSON kinds tell its branches apart, else {"<branch>": value}', () => {
      const v = value({ text_or_number: 7, int_or_long: { long: 5 }, color_or_raw: { bytes: 'AQ==' }, double_or_text: { double: 'NaN' } });
      assert.equal(v.text_or_number, 7);
      assert.deepEqual(v.int_or_long, { long: 5 }, 'avsc wraps this union too');
      assert.deepEqual(v.color_or_raw, Buffer.from([1]), 'avsc does not wrap this one: its branches are a string (the enum) and a Buffer');
      assert.equal(value({ color_or_raw: { 'hourglass.test.Color': 'RED' } }).color_or_raw, 'RED', 'a named branch is named in full');
      assert.ok(Number.isNaN(v.double_or_text));
      assert.deepEqual(problem({ double_or_text: 1.5 }), [
        'double_or_text: expected an object with one key naming the branch (double, string), such as {"double": …}, got number 1.5',
      ]);
    });
  });
});
