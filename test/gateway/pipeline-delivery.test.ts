// What the SDK or the gateway accepts is delivered byte-exact, and what they refuse is refused clearly: random events of every Avro type (the every_type fixture) through the real SDK and gateway, the Pub/Sub emulator, a worker and a checker, read back from the part files with fastavro.
//
// Also the regression of issue 12: a request holding a lone surrogate was answered 200, and the
// worker then dead-lettered the whole message it shared with other clients' valid events.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveGatewayOptions } from '../../services/gateway/gateway-options.ts';
import { silentLogger } from '../../services/gateway/log.ts';
import { startGateway } from '../../services/gateway/server.ts';
import { deliveredSchemaOf } from '../../services/registry/delivered-schema.ts';
import type { SchemaNode } from '../../services/registry/schema-tree.ts';
import type { SchemaVersion } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import { windowOf } from '../../services/wire/window.ts';
import { deliveredValue, nearMiss, plainValue, validValue } from '../helpers/value-arbitraries.ts';
import { FIXTURE_SCHEMAS_DIR } from '../helpers/fixture-schemas.ts';
import { jsonNearMisses, jsonText, toGatewayJson } from '../helpers/gateway-json.ts';
import { startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';
import { searchPerformed } from '../helpers/sample-events.ts';
import { postEvents, request } from './gateway-kit.ts';

const TYPE = 'every_type';
const SEED = 20_240_615;
/** Events larger than this are left out of the sample: the point is every type, not the size limit. */
const MAX_SAMPLE_BYTES = 200 * 1024;

interface Sent {
  readonly version: SchemaVersion;
  /** In avsc's representation, as published or as the gateway's mapping made it. */
  readonly payload: Record<string, unknown>;
  /** The client id as delivered, scoped by who sent it ("<scope>:<id>"), if one was sent. */
  readonly eventId: string | undefined;
}

describe('every Avro type through the real pipeline', () => {
  it('what the SDK or the gateway accepts is in the closed windows byte-exact, as fastavro reads it; what they refuse is refused at its path; the part files carry the documented delivered schema', async () => {
    const kit = await startPipeline({ schemasDir: FIXTURE_SCHEMAS_DIR });
    kit.startChecker();
    const v1 = kit.registry.version(TYPE, 1);
    const v2 = kit.registry.version(TYPE, 2);
    const sample = (version: SchemaVersion, count: number, seed: number) =>
      fc
        .sample(validValue(version.payloadTree, { maxLength: 4 }), { seed, numRuns: count * 2 })
        .filter((v) => version.payloadType.toBuffer(v).length < MAX_SAMPLE_BYTES)
        .slice(0, count) as Array<Record<string, unknown>>;

    const sdk = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, origin: 'sdk-test' });
    const gatewayPublisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, origin: 'gateway-test' });
    const gateway = await startGateway({ publisher: gatewayPublisher, registry: kit.registry, options: resolveGatewayOptions({}, { mode: 'local', port: 0 }), logger: silentLogger });
    const sent = new Map<string, Sent>();
    const firstUs = Date.now() * 1000;
    try {
      // Through the SDK, one by one (so seqs follow the calls): v2 values, some with client ids, then v1 values.
      let sdkSeq = 0;
      for (const [i, payload] of sample(v2, 60, SEED).entries()) {
        const eventId = i % 3 === 0 ? `sdk-${i}` : undefined;
        await sdk.publish(TYPE, payload, eventId === undefined ? {} : { eventId });
        sent.set(`${sdk.id}/${sdkSeq++}`, { version: v2, payload, eventId: eventId === undefined ? undefined : `sdk-test:${eventId}` });
      }
      for (const payload of sample(v1, 15, SEED + 1)) {
        await sdk.publish(TYPE, payload, { version: 1 });
        sent.set(`${sdk.id}/${sdkSeq++}`, { version: v1, payload, eventId: undefined });
      }
      // Near misses through the SDK: each refused at its path, nothing accepted.
      for (const miss of fc.sample(nearMiss(v2.payloadTree, { huge: false }), { seed: SEED + 2, numRuns: 20 })) {
        await assert.rejects(sdk.publish(TYPE, miss.value as object), (e: unknown) => {
          const details = (e as { code?: string; details?: Array<{ path: string }> }).details ?? [];
          assert.equal((e as { code?: string }).code, 'HG_INVALID_EVENT', `${miss.fault}: ${String(e)}`);
          assert.ok(details.some((d) => d.path === miss.path), `${miss.fault} at "${miss.path}": ${JSON.stringify(details)}`);
          return true;
        });
      }
      assert.equal(sdk.stats().acceptedEvents, sdkSeq);

      // Through the gateway, in requests of 10, written as the README says: v2, then v1 with ?version=1.
      let gatewaySeq = 0;
      const post = async (version: SchemaVersion, payloads: Array<Record<string, unknown>>, first: number) => {
        const events = payloads.map((payload, k) => ({ payload, eventId: (first + k) % 4 === 0 ? `gw-${version.version}-${first + k}` : undefined }));
        const body = jsonText(events.map((e) => ({ payload: toGatewayJson(version.payloadTree, e.payload), event_id: e.eventId })));
        const answer = await postEvents(gateway.url, TYPE, body, {}, version === v1 ? '?version=1' : '');
        assert.equal(answer.status, 200, answer.text.slice(0, 2000));
        // Authentication is off (local mode): the gateway scopes client ids as "anonymous".
        for (const e of events) sent.set(`${gatewayPublisher.id}/${gatewaySeq++}`, { version, payload: e.payload, eventId: e.eventId === undefined ? undefined : `anonymous:${e.eventId}` });
      };
      const gatewayV2 = sample(v2, 60, SEED + 3);
      for (let i = 0; i < gatewayV2.length; i += 10) await post(v2, gatewayV2.slice(i, i + 10), i);
      await post(v1, sample(v1, 10, SEED + 4), 0);

      // One client's bad request beside another's good one, at the same time, so their events would share
      // a message: the bad one is refused whole, the good one is delivered (issue 12: both were dead letters).
      const good = sample(v2, 20, SEED + 5);
      const lone = JSON.parse(jsonText(toGatewayJson(v2.payloadTree, good[0]))) as Record<string, unknown>;
      const [goodAnswer, badAnswer] = await Promise.all([
        postEvents(gateway.url, TYPE, jsonText(good.map((p) => ({ payload: toGatewayJson(v2.payloadTree, p) })))),
        postEvents(gateway.url, TYPE, jsonText([{ payload: toGatewayJson(v2.payloadTree, good[1]) }, { payload: { ...lone, text: 'caf\ud800' } }])),
      ]);
      assert.equal(goodAnswer.status, 200, goodAnswer.text.slice(0, 500));
      assert.equal(badAnswer.status, 400, badAnswer.text.slice(0, 500));
      assert.deepEqual((badAnswer.json as { error: { details: Array<{ index: number; path: string }> } }).error.details.map((d) => [d.index, d.path]), [[1, 'payload.text']]);
      for (const payload of good) sent.set(`${gatewayPublisher.id}/${gatewaySeq++}`, { version: v2, payload, eventId: undefined });

      // Near misses through the gateway, each beside a valid event: 400 at the index and path, nothing accepted.
      const before = gatewayPublisher.stats().acceptedEvents;
      for (const [k, payload] of sample(v2, 20, SEED + 6).entries()) {
        const misses = jsonNearMisses(v2.payloadTree, toGatewayJson(v2.payloadTree, payload));
        const miss = misses[(k * 7919) % misses.length]!;
        const answer = await postEvents(gateway.url, TYPE, `[${jsonText({ payload: toGatewayJson(v2.payloadTree, payload) })},${jsonText({ payload: miss.json })}]`);
        assert.equal(answer.status, 400, `${miss.fault} at "${miss.path}": ${answer.text.slice(0, 500)}`);
        const details = (answer.json as { error: { details: Array<{ index: number; path: string }> } }).error.details;
        const path = miss.path === '' ? 'payload' : `payload.${miss.path}`;
        assert.ok(details.some((d) => d.index === 1 && d.path === path), `${miss.fault} at "${path}": ${JSON.stringify(details)}`);
      }
      assert.equal(gatewayPublisher.stats().acceptedEvents, before, 'nothing of a refused request was accepted');
    } finally {
      await sdk.close();
      await gateway.close();
    }
    const lastUs = Date.now() * 1000;

    const windows: number[] = [];
    for (let w = windowOf(firstUs, WINDOW_S); w <= windowOf(lastUs, WINDOW_S); w++) windows.push(w);
    const manifests = await kit.waitForClosed(TYPE, windows, 120_000);
    const files = manifests.flatMap((m) => m.files.map((f) => path.join(kit.storage.root, layout.closed({ type: TYPE, index: m.window, lengthS: WINDOW_S }), f.name)));
    const documented = deliveredSchemaOf(v2.payloadSchema as never);
    for (const m of manifests) assert.deepEqual(m.schema, documented, 'the manifest names the documented delivered schema');
    assert.deepEqual(await kit.storage.list('deadletter/'), [], 'no dead letters');
    assert.deepEqual(await kit.storage.list('late/'), [], 'nothing late');

    const read = await readParts(files);
    const accepted = sent.size;
    let delivered = 0;
    for (const part of read) {
      assert.deepEqual(JSON.parse(part.schema), documented, `${part.file}: the writer schema is the documented delivered schema`);
      const receiveTime = (JSON.parse(part.schema) as { fields: Array<{ name: string; type: unknown }> }).fields.find((f) => f.name === 'receive_time');
      assert.deepEqual(receiveTime?.type, { type: 'long', logicalType: 'timestamp-micros' });
      assert.deepEqual(part.logicalProblems, [], `${part.file}: fastavro's logical values (dates, times, decimals, UUIDs) agree with the raw ones`);
      // Byte-exact: each record's bytes are the SDK's encoding of the value sent (v1 values read as v2).
      let r = 0;
      for (const block of part.blocks) {
        const bytes = Buffer.from(block.hex, 'hex');
        let pos = 0;
        for (let i = 0; i < block.count; i++) {
          const { value, offset } = v2.deliveredType.decode(bytes, pos);
          const record = value as { event_id: string; receive_time: number; publisher: string; seq: number };
          const key = `${record.publisher}/${record.seq}`;
          const expected = sent.get(key);
          assert.ok(expected, `${key} was delivered but never accepted`);
          const payload = asV2(expected, v2);
          assert.equal(record.event_id, expected.eventId ?? `${record.publisher}-${record.seq}`);
          const identity = { event_id: record.event_id, receive_time: record.receive_time, publisher: record.publisher, seq: record.seq };
          assert.deepStrictEqual(plainValue(value), { ...identity, ...payload }, `${key}: another value was delivered`);
          assert.ok(bytes.subarray(pos, offset).equals(v2.deliveredType.toBuffer({ ...identity, ...payload })), `${key}: the bytes differ from the SDK's encoding of the value sent`);
          // fastavro, an independent reader, reads the same value.
          assert.deepStrictEqual(part.records[r], { ...rawForm(v2.payloadTree, payload) as object, ...identity }, `${key}: fastavro reads another value`);
          sent.delete(key);
          delivered++;
          r++;
          pos = offset;
        }
        assert.equal(pos, bytes.length);
      }
    }
    assert.deepEqual([...sent.keys()], [], 'every accepted event is in a closed window');
    assert.equal(delivered, accepted);
    assert.equal(accepted, 165, 'every sampled event was sent (none too large for the sample)');
  });
});

describe('issue 12: one client\'s bad text never costs another client\'s events', () => {
  it('a lone surrogate and bytes that are not UTF-8, sent beside 20 valid events of another request, are refused; the 20 are in the closed window, nothing is dead-lettered', async () => {
    const kit = await startPipeline();
    // A max wait far above any delivery delay. This test failed once in CI on an empty window (the 20 events in none):
    // suspected, not shown, a window closed by the kit's 8-s max wait before they were staged (or by a checker's first
    // round before it read the control topic: close-rule.ts, FIRST_READ_GRACE_MS).
    kit.startChecker({ maxWaitMs: 60_000 });
    // A long linger, so that concurrent requests share one Pub/Sub message, as they did in the report.
    const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 300, origin: 'gateway-test' });
    const gateway = await startGateway({ publisher, registry: kit.registry, options: resolveGatewayOptions({}, { mode: 'local', port: 0 }), logger: silentLogger });
    const firstUs = Date.now() * 1000;
    let answers;
    try {
      await publisher.ready();
      const good = Array.from({ length: 20 }, (_, i) => ({ payload: searchPerformed(i) }));
      const text = Buffer.from(JSON.stringify([{ payload: { ...searchPerformed(21), query: 'café' } }]));
      const e9 = text.indexOf(Buffer.from('é'));
      answers = await Promise.all([
        postEvents(gateway.url, 'search_performed', good),
        postEvents(gateway.url, 'search_performed', [{ payload: searchPerformed(20) }, { payload: { ...searchPerformed(20), query: 'caf\ud800' } }]),
        request(`${gateway.url}/v1/events/search_performed`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: Buffer.concat([text.subarray(0, e9), Buffer.from([0xe9]), text.subarray(e9 + 2)]),
        }),
      ]);
    } finally {
      await gateway.close();
    }
    const windows: number[] = [];
    for (let w = windowOf(firstUs, WINDOW_S); w <= windowOf(Date.now() * 1000, WINDOW_S); w++) windows.push(w);
    const manifests = await kit.waitForClosed('search_performed', windows, 120_000);
    const deadLetters = await kit.storage.list('deadletter/');
    assert.deepEqual(deadLetters.map((o) => o.key), [], 'no message was dead-lettered');
    const files = manifests.flatMap((m) => m.files.map((f) => path.join(kit.storage.root, layout.closed({ type: 'search_performed', index: m.window, lengthS: WINDOW_S }), f.name)));
    const records = (await readParts(files)).flatMap((p) => p.records as Array<{ publisher: string; query: string }>).filter((r) => r.publisher === publisher.id);
    const closes = manifests.map((m) => `${m.windowStart} ${m.status} ${m.events} events (${m.reason})`).join('; ');
    assert.deepEqual(records.map((r) => r.query).sort(), Array.from({ length: 20 }, (_, i) => searchPerformed(i).query).sort(), `the 20 valid events, and only they, were delivered (closes: ${closes}; late/: ${(await kit.storage.list('late/')).length} objects)`);
    const [goodAnswer, loneAnswer, bytesAnswer] = answers;
    assert.equal(goodAnswer.status, 200, goodAnswer.text);
    assert.equal(loneAnswer.status, 400, `a lone surrogate: ${loneAnswer.text}`);
    assert.equal(bytesAnswer.status, 400, `bytes that are not UTF-8: ${bytesAnswer.text}`);
  });
});

/** A sent payload as the v2 record it is delivered as: its value, documented normalisations applied, v1's missing fields defaulted. */
function asV2(sent: Sent, v2: SchemaVersion): Record<string, unknown> {
  const value = deliveredValue(sent.version.payloadTree, sent.payload) as Record<string, unknown>;
  if (sent.version === v2) return value;
  return { ...value, ...Object.fromEntries((v2.payloadTree as Extract<SchemaNode, { kind: 'record' }>).fields.filter((f) => !(f.name in value)).map((f) => [f.name, f.defaultValue])) };
}

/** How the Python script writes a value fastavro read without logical types: bytes and floats tagged, union branches unwrapped. */
function rawForm(node: SchemaNode, value: unknown): unknown {
  switch (node.kind) {
    case 'value': {
      const t = node.rule.type;
      if (t === 'float' || t === 'double') return { $f: Number.isNaN(value) ? 'nan' : doubleHex(value as number) };
      if (t === 'bytes' || t === 'fixed') return { $b: (value as Buffer).toString('base64') };
      return value;
    }
    case 'enum':
      return value;
    case 'array':
      return (value as unknown[]).map((v) => rawForm(node.items, v));
    case 'map':
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, rawForm(node.values, v)]));
    case 'record':
      return Object.fromEntries(node.fields.map((f) => [f.name, rawForm(f.node, (value as Record<string, unknown>)[f.name])]));
    case 'union': {
      if (value === null) return null;
      if (node.wrapped) {
        const [name, inner] = Object.entries(value as Record<string, unknown>)[0]!;
        return rawForm(node.branches.find((b) => b.name === name)!.node, inner);
      }
      const bucket = Array.isArray(value) ? 'array' : Buffer.isBuffer(value) ? 'buffer' : typeof value;
      return rawForm(node.branches.find((b) => b.bucket === bucket)!.node, value);
    }
  }
}

function doubleHex(n: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b.toString('hex');
}

interface PartRead {
  readonly file: string;
  /** avro.schema of the file, as written. */
  readonly schema: string;
  /** Decompressed blocks, as fastavro's block reader gives them. */
  readonly blocks: Array<{ hex: string; count: number }>;
  /** Records read with fastavro's logical-type readers off, in file order. */
  readonly records: unknown[];
  /** Where fastavro's logical value (date, time, timestamp, decimal, UUID) disagrees with the raw one. */
  readonly logicalProblems: string[];
}

const READ_PARTS = String.raw`
import sys, json, struct, base64, math, uuid, datetime, decimal
import fastavro, fastavro._read as fastavro_read

def raw(v):
    if isinstance(v, bytes): return {'$b': base64.b64encode(v).decode()}
    if isinstance(v, float): return {'$f': 'nan' if math.isnan(v) else struct.pack('>d', v).hex()}
    if isinstance(v, list): return [raw(x) for x in v]
    if isinstance(v, dict): return {k: raw(x) for k, x in v.items()}
    return v

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def expected_logical(t, r):
    lt = t.get('logicalType')
    if lt == 'date': return datetime.date(1970, 1, 1) + datetime.timedelta(days=r)
    if lt == 'time-millis': return (datetime.datetime.min + datetime.timedelta(milliseconds=r)).time()
    if lt == 'time-micros': return (datetime.datetime.min + datetime.timedelta(microseconds=r)).time()
    if lt == 'timestamp-millis': return EPOCH + datetime.timedelta(milliseconds=r)
    if lt == 'timestamp-micros': return EPOCH + datetime.timedelta(microseconds=r)
    if lt == 'local-timestamp-millis': return (EPOCH + datetime.timedelta(milliseconds=r)).replace(tzinfo=None)
    if lt == 'local-timestamp-micros': return (EPOCH + datetime.timedelta(microseconds=r)).replace(tzinfo=None)
    if lt == 'decimal':
        return decimal.Decimal(int.from_bytes(r, 'big', signed=True)).scaleb(-t.get('scale', 0))
    if lt == 'uuid' and t['type'] == 'string': return uuid.UUID(r)
    return r

out = []
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        reader = fastavro.reader(f)
        schema_text = reader.metadata['avro.schema']
        logical = list(reader)
    with open(path, 'rb') as f:
        blocks = [{'hex': b.bytes_.getvalue().hex(), 'count': b.num_records} for b in fastavro.block_reader(f)]
    saved = dict(fastavro_read.LOGICAL_READERS)
    fastavro_read.LOGICAL_READERS.clear()
    try:
        with open(path, 'rb') as f:
            raws = list(fastavro.reader(f))
    finally:
        fastavro_read.LOGICAL_READERS.update(saved)
    problems = []
    fields = json.loads(schema_text)['fields']
    for rec_raw, rec_logical in zip(raws, logical):
        for field in fields:
            t = field['type']
            r, l = rec_raw[field['name']], rec_logical[field['name']]
            if isinstance(t, list):
                t = next((b for b in t if isinstance(b, dict) and 'logicalType' in b), None)
                if t is None or r is None: continue
            if isinstance(t, dict) and 'logicalType' in t and t['logicalType'] != 'duration' and not (t['type'] == 'fixed' and t['logicalType'] == 'uuid'):
                if expected_logical(t, r) != l:
                    problems.append('%s: raw %r read as %r' % (field['name'], r, l))
    out.append({'file': path, 'schema': schema_text, 'blocks': blocks, 'records': [raw(r) for r in raws], 'logicalProblems': problems[:20]})
print(json.dumps(out))
`;

async function readParts(files: string[]): Promise<PartRead[]> {
  const python = await ensurePythonVenv();
  return JSON.parse(await runPythonScript(python, READ_PARTS, files)) as PartRead[];
}
