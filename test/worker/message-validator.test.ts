// Unit tests of the worker's message validator: every accept and dead-letter case, on messages encoded exactly as the SDK encodes them.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Registry } from '../../services/registry/registry.ts';
import { CODEC_NAMES, compressBlock, decompressBlock, type CodecName } from '../../services/wire/codecs.ts';
import { encodeLong } from '../../services/wire/avro-container.ts';
import { MessageValidator, type DeadLetterReason, type Verdict } from '../../services/worker/message-validator.ts';
import { buildBatch } from '../fixtures/worker-messages.ts';
import { varint } from '../helpers/encoded-value-arbitraries.ts';

describe('message validator', () => {
  let registry: Registry;
  let validator: MessageValidator;
  before(async () => {
    registry = await Registry.load();
    validator = new MessageValidator(registry, { windowLengthS: 3600, maxBlockBytes: 1024 * 1024, codec: undefined });
  });

  for (const codec of CODEC_NAMES) {
    it(`accepts a well-formed ${codec} batch and keeps its bytes as they are (the fast path)`, () => {
      const batch = buildBatch(registry, { codec, count: 50 });
      const verdict = validator.validate('track_played', batch.data, batch.attributes);
      assert.ok(verdict.ok, `rejected: ${!verdict.ok && verdict.detail}`);
      assert.equal(verdict.body, batch.data, 'the very same buffer: nothing recompressed or copied');
      assert.equal(verdict.codec, codec);
      assert.equal(verdict.attributes.count, 50);
      assert.equal(verdict.schema.version, 2);
    });
  }

  it('accepts an older schema version and proves it against that version', () => {
    const batch = buildBatch(registry, { version: 1, count: 20 });
    const verdict = validator.validate('track_played', batch.data, batch.attributes);
    assert.ok(verdict.ok);
    assert.equal(verdict.schema.version, 1);
    // The same bytes labelled v2 are short of v2's extra field: the proof catches it.
    const mislabelled = validator.validate('track_played', batch.data, { ...batch.attributes, version: '2' });
    assert.equal(mislabelled.ok, false);
  });

  it('recompresses into the configured codec, and only then', () => {
    const zstd = new MessageValidator(registry, { windowLengthS: 3600, maxBlockBytes: 1024 * 1024, codec: 'zstandard' });
    const deflated = buildBatch(registry, { codec: 'deflate', count: 30 });
    const verdict = zstd.validate('track_played', deflated.data, deflated.attributes);
    assert.ok(verdict.ok);
    assert.equal(verdict.codec, 'zstandard');
    assert.deepEqual(decompressBlock('zstandard', verdict.body), deflated.datums);
    const already = buildBatch(registry, { codec: 'zstandard', count: 30 });
    const kept = zstd.validate('track_played', already.data, already.attributes);
    assert.ok(kept.ok);
    assert.equal(kept.body, already.data);
  });

  // The dead-letter cases, one row each: what is wrong, the reason code, a fragment of the detail, the folder.
  const cases: Array<{
    name: string;
    make: () => { data: Buffer; attributes: Record<string, string>; subscription?: string };
    reason: DeadLetterReason;
    detail: RegExp;
    typeDir: string;
    /** The runs of good records kept, [firstSeq, count], when some are refused among good ones. */
    kept?: Array<[number, number]>;
  }> = [
    { name: 'D01 no attributes at all', make: () => ({ data: Buffer.from('x'), attributes: {} }), reason: 'bad_attributes', detail: /"format"/, typeDir: '_unknown' },
    {
      name: 'D02 one attribute missing (count)',
      make: () => {
        const { count: _c, ...attributes } = buildBatch(registry).attributes;
        return { data: buildBatch(registry).data, attributes };
      },
      reason: 'bad_attributes',
      detail: /"count" is missing/,
      typeDir: 'track_played',
    },
    {
      name: 'D03 unknown codec',
      make: () => ({ ...buildBatch(registry), attributes: { ...buildBatch(registry).attributes, codec: 'bzip2' } }),
      reason: 'bad_attributes',
      detail: /"codec" is not a known codec/,
      typeDir: 'track_played',
    },
    {
      name: 'D04 type attribute that is not a type name',
      make: () => ({ ...buildBatch(registry), attributes: { ...buildBatch(registry).attributes, type: '../../etc' } }),
      reason: 'bad_attributes',
      detail: /not a valid type name/,
      typeDir: '_unknown',
    },
    {
      name: 'D05 unknown type',
      make: () => ({ ...buildBatch(registry), attributes: { ...buildBatch(registry).attributes, type: 'no_such_type' } }),
      reason: 'unknown_type',
      detail: /"no_such_type" is not in the registry/,
      typeDir: 'no_such_type',
    },
    {
      name: 'D06 a known type on another type\'s subscription',
      make: () => ({ ...buildBatch(registry), subscription: 'ui_interaction' }),
      reason: 'wrong_topic',
      detail: /"track_played" message arrived on the subscription of "ui_interaction"/,
      typeDir: 'track_played',
    },
    {
      name: 'D07 unknown schema version',
      make: () => ({ ...buildBatch(registry), attributes: { ...buildBatch(registry).attributes, version: '9' } }),
      reason: 'unknown_version',
      detail: /no schema version 9/,
      typeDir: 'track_played',
    },
    {
      name: 'D08 another window length',
      make: () => buildBatch(registry, { windowS: 60 }),
      reason: 'wrong_window_length',
      detail: /window_s is 60, this pipeline uses 3600/,
      typeDir: 'track_played',
    },
    {
      name: 'D09 garbage bytes (deflate)',
      make: () => ({ data: Buffer.from('this is not deflate at all, just some text'), attributes: buildBatch(registry).attributes }),
      reason: 'corrupt_block',
      detail: /corrupt deflate block/,
      typeDir: 'track_played',
    },
    {
      name: 'D10 garbage bytes (null codec)',
      make: () => ({ data: Buffer.from([0xff, 0xff, 0xff, 0xff]), attributes: buildBatch(registry, { codec: 'null' }).attributes }),
      reason: 'bad_records',
      detail: /not 10 records/,
      typeDir: 'track_played',
    },
    {
      name: 'D11 fewer records than count',
      make: () => {
        const b = buildBatch(registry, { count: 10 });
        return { data: b.data, attributes: { ...b.attributes, count: '11' } };
      },
      reason: 'bad_records',
      detail: /record 11 of 11 is truncated/,
      typeDir: 'track_played',
    },
    {
      name: 'D12 more records than count',
      make: () => {
        const b = buildBatch(registry, { count: 10 });
        return { data: b.data, attributes: { ...b.attributes, count: '9' } };
      },
      reason: 'bad_records',
      detail: /more than 9 records/,
      typeDir: 'track_played',
    },
    {
      name: 'D13 decompresses beyond the cap',
      make: () => {
        const b = buildBatch(registry, { count: 10 });
        return { data: compressBlock('deflate', Buffer.alloc(2 * 1024 * 1024)), attributes: b.attributes };
      },
      reason: 'corrupt_block',
      detail: /too-large/,
      typeDir: 'track_played',
    },
    {
      name: 'D14 snappy block with a bad CRC',
      make: () => {
        const b = buildBatch(registry, { codec: 'snappy' });
        const data = Buffer.from(b.data);
        data[data.length - 1]! ^= 0xff;
        return { data, attributes: b.attributes };
      },
      reason: 'corrupt_block',
      detail: /crc-mismatch/,
      typeDir: 'track_played',
    },
    {
      name: 'D15 receive times outside the window',
      make: () => {
        const b = buildBatch(registry);
        return { data: b.data, attributes: { ...b.attributes, window: String(Number(b.attributes.window) + 1) } };
      },
      reason: 'bad_attributes',
      detail: /not inside window/,
      typeDir: 'track_played',
    },
    {
      // What avsc wrote for a lone surrogate before the SDK and the gateway refused one: ED A0 80.
      name: 'D16 a string that is not UTF-8',
      make: () => withRecord(1, (r) => deliveredType().toBuffer({ ...r, country: 'S\ud800' })),
      reason: 'bad_records',
      detail: /refused \(the others were kept\): record 2 of 3 \(seq 1\): string is not valid UTF-8 at byte \d+ of the record/,
      kept: [[0, 1], [2, 1]],
      typeDir: 'track_played',
    },
    {
      // A long the checker's avsc cannot decode (it would stop the window's compaction): the proof refuses it first.
      name: 'D17 a long past what avsc reads exactly',
      make: () =>
        withRecord(1, (r) => {
          const bytes = deliveredType().toBuffer({ ...r, ms_played: 123456789 });
          const at = bytes.indexOf(encodeLong(123456789));
          return Buffer.concat([bytes.subarray(0, at), varint(2n ** 60n), bytes.subarray(at + encodeLong(123456789).length)]);
        }),
      reason: 'bad_records',
      detail: /record 2 of 3 \(seq 1\): long 1152921504606847000 outside -4503599627370496\.\.9007199254740990/,
      kept: [[0, 1], [2, 1]],
      typeDir: 'track_played',
    },
  ];

  const deliveredType = () => registry.require('track_played').latest.deliveredType;
  /** A batch of 3 SDK-encoded events whose record `index` is replaced by other bytes. */
  const withRecord = (index: number, bytesOf: (record: Record<string, unknown>) => Buffer) => {
    const b = buildBatch(registry, { count: 3 });
    const datums = Buffer.concat(b.records.map((r, i) => (i === index ? bytesOf(r) : deliveredType().toBuffer(r))));
    return { data: compressBlock('deflate', datums), attributes: b.attributes };
  };

  for (const c of cases) {
    it(`${c.name} → ${c.reason}`, () => {
      const { data, attributes, subscription } = c.make();
      const verdict: Verdict = validator.validate(subscription ?? 'track_played', data, attributes);
      assert.equal(verdict.ok, false, 'must be rejected');
      if (verdict.ok) return;
      assert.equal(verdict.reason, c.reason, verdict.detail);
      assert.match(verdict.detail, c.detail);
      assert.equal(verdict.typeDir, c.typeDir);
      // Refused records among good ones: the good ones are kept, as runs [firstSeq, count].
      if (c.kept) assert.deepEqual(verdict.split?.kept.map((k) => [k.attributes.firstSeq, k.attributes.count]), c.kept);
    });
  }

  it('compiles one skipper per (type, version) and keeps proving with it', () => {
    const codecs: CodecName[] = ['deflate', 'zstandard'];
    for (let i = 0; i < 20; i++) {
      const b = buildBatch(registry, { firstSeq: i * 5, count: 5, codec: codecs[i % 2] });
      assert.ok(validator.validate('track_played', b.data, b.attributes).ok);
    }
    for (const type of ['ui_interaction', 'search_performed']) {
      const b = buildBatch(registry, { type, count: 7 });
      assert.ok(validator.validate(type, b.data, b.attributes).ok, type);
    }
  });
});
