// Every create-only write that matters, on fake-gcs-server behind a proxy that lets the first create of each object
// land and then loses its response: the client library retries it, meets its own object (a 412), and the write must
// count as done. Worker staging, dead letters, the checker's commit, segments and late files, each checked for what
// a wrong reading of that 412 would break.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CoverageStore } from '../../services/checker/coverage-store.ts';
import { moveLateEvents } from '../../services/checker/late-events.ts';
import { compactSegment, segmentPrefix } from '../../services/checker/segments.ts';
import { StagingIndex } from '../../services/checker/staging-index.ts';
import { closeWindow } from '../../services/checker/window-closer.ts';
import { startFakeGcsServer, type FakeGcsServer } from '../../services/local-stack/fake-gcs-server.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { windowOf } from '../../services/wire/window.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US, FakeSource, fakeInbound } from '../fixtures/worker-messages.ts';
import { readStaging } from '../fixtures/worker-staging.ts';
import { startHttpFaultProxy, type HttpFaultProxy } from '../helpers/http-fault-proxy.ts';

const ref = { type: 'track_played', index: windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S), lengthS: STAGED_WINDOW_S };
const closeOptions = { nowMs: () => Date.now(), maxPartBytes: 1 << 30, codec: 'deflate' as const, clientIdHorizonUs: 600e6 };

/** The object a create (an upload's `name`) or a copy (the path after rewriteTo/…/o/) writes. */
function targetOf(url: string): string | undefined {
  const u = new URL(url, 'http://proxy');
  const copied = /\/(?:rewriteTo|copyTo)\/b\/[^/]+\/o\/([^/]+)$/.exec(u.pathname);
  return u.searchParams.get('name') ?? (copied ? decodeURIComponent(copied[1]!) : undefined);
}

describe('a create whose response is lost after it landed (fake-gcs-server)', () => {
  let gcs: FakeGcsServer;
  let registry: Registry;
  const proxies: HttpFaultProxy[] = [];
  before(async () => {
    [gcs, registry] = await Promise.all([startFakeGcsServer(), Registry.load()]);
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await gcs.stop();
  });

  /**
   * A fresh bucket reached through a proxy that loses the response of the first create (or copy) of every key
   * `lose` selects; `lostKeys` lists them, in the storage's keys.
   */
  async function lossyBucket(lose: (key: string) => boolean) {
    const bucket = `hg-lost-${randomBytes(4).toString('hex')}`;
    await gcs.createBucket(bucket);
    const proxy = await startHttpFaultProxy(gcs.endpoint);
    proxies.push(proxy);
    const seen = new Set<string>();
    const lostKeys: string[] = [];
    proxy.setRule((r) => {
      if (r.method !== 'POST' || !r.url.includes('ifGenerationMatch=0')) return 'forward';
      const key = targetOf(r.url)?.replace(/^p\//, '');
      if (key === undefined || seen.has(key) || !lose(key)) return 'forward';
      seen.add(key);
      lostKeys.push(key);
      return 'lose-response';
    });
    const storage = await openStorage(`gs://${bucket}/p`, { gcsEndpoint: proxy.endpoint });
    return { storage, lostKeys };
  }

  it('worker staging: the file and its manifest keep their names, once each, and the messages are acked', async () => {
    const { storage, lostKeys } = await lossyBucket((k) => k.startsWith('staging/'));
    await stageMessages(storage, registry, [{ publisher: 'a', firstSeq: 0, count: 20 }, { publisher: 'b', firstSeq: 0, count: 5 }]);
    assert.ok(lostKeys.some((k) => k.endsWith('.avro')) && lostKeys.some((k) => k.endsWith('.manifest.json')), `responses lost: ${lostKeys.join(', ')}`);
    const staged = await readStaging(storage, registry);
    assert.deepEqual(staged.orphans, [], 'no file left without a manifest');
    // The fixture's worker names its files <worker>-…-<counter>-v2.avro: the counters 0 and 1, no third name taken.
    const names = staged.manifests.map((m) => m.file.split('/').pop()!).sort();
    assert.deepEqual(names.map((n) => /-(\d{6})-v2\.avro$/.exec(n)?.[1]), ['000000', '000001'], `no file moved to another name: ${names.join(', ')}`);
    assert.equal(new Set(names.map((n) => n.replace(/-\d{6}-v2\.avro$/, ''))).size, 1, 'one writer');
    assert.equal(staged.records.length, 25);
  });

  it('dead letters: written once, and the message acked', async () => {
    const { storage, lostKeys } = await lossyBucket((k) => k.startsWith('deadletter/'));
    const source = new FakeSource();
    const worker = new Worker(resolveWorkerOptions({}, { workerId: 'w', maxFileAgeMs: 3_600_000 }), { registry, storage, source, clock: { nowUs: () => BASE_RECEIVE_US } });
    worker.start();
    const message = fakeInbound(Buffer.from('not a batch'), {}, 'track_played');
    source.deliver(message);
    await worker.flush();
    await worker.stop();
    assert.equal(lostKeys.length, 1);
    assert.equal(message.settled, 'ack');
    assert.deepEqual((await storage.list('deadletter/')).map((o) => o.key), lostKeys);
    assert.equal(worker.stats().writeRetries, 0, 'the storage layer resolved it; the worker did not have to retry');
  });

  it('the checker\'s commit: plan, parts, _MANIFEST.json and _SUCCESS each lose a response, and the close succeeds in one call', async () => {
    const { storage, lostKeys } = await lossyBucket((k) => k.startsWith(layout.closed(ref)) || k.includes('/closing/'));
    const staged = await stageMessages(storage, registry, [{ publisher: 'a', firstSeq: 0, count: 20 }, { publisher: 'b', firstSeq: 0, count: 30, receiveUs: BASE_RECEIVE_US + 1000 }]);
    const manifest = await closeWindow(storage, registry, { ref, status: 'complete', reason: 'test', proofs: [], manifests: staged, segments: [], closer: 'test', ...closeOptions });
    for (const name of ['plan.json', '.avro', '_MANIFEST.json', '_SUCCESS']) assert.ok(lostKeys.some((k) => k.endsWith(name)), `a create of ${name} lost its response (${lostKeys.join(', ')})`);
    assert.equal(manifest.events, 50);
    const dir = layout.closed(ref);
    assert.deepEqual((await storage.list(dir)).map((o) => o.key.slice(dir.length)), ['_MANIFEST.json', '_SUCCESS', ...manifest.files.map((f) => f.name)].sort());
    const committed = JSON.parse((await storage.get(dir + layout.manifestName)).toString('utf8')) as { attempt: string };
    assert.equal(committed.attempt, manifest.attempt);
  });

  it('segments: a segment whose create lost its response is kept, with the parts it lists (not taken for another checker\'s and deleted)', async () => {
    const { storage, lostKeys } = await lossyBucket((k) => k.startsWith(segmentPrefix(ref)));
    const staged = await stageMessages(storage, registry, [{ publisher: 'a', firstSeq: 0, count: 20 }]);
    const segment = await compactSegment(storage, registry, ref, [], staged, { codec: 'deflate', maxPartBytes: 1 << 30, checker: 'test', clientIdHorizonUs: 600e6 });
    assert.ok(lostKeys.some((k) => /seg-\d+\.json$/.test(k)), `the segment's create lost its response (${lostKeys.join(', ')})`);
    assert.ok(segment, 'the segment is ours');
    assert.equal(segment.events, 20);
    for (const part of segment.parts) assert.ok(await storage.stat(part.key), `${part.key} is still there`);
    const [window] = [...(await new StagingIndex(storage, STAGED_WINDOW_S).windows('track_played')).values()];
    assert.equal(window?.segments.length, 1);
  });

  it('late files: the part and its manifest each lose a response; the events are moved once, listed, and staging is removed', async () => {
    const { storage, lostKeys } = await lossyBucket((k) => k.startsWith('late/'));
    const staged = await stageMessages(storage, registry, [{ publisher: 'late-pub', firstSeq: 40, count: 12 }]);
    const moved = await moveLateEvents(storage, registry, new CoverageStore(), ref, staged, { maxPartBytes: 1 << 30, codec: 'deflate', closer: 'test', nowMs: Date.now(), clientIdHorizonUs: 600e6, closedAttempt: 'test' });
    assert.ok(lostKeys.some((k) => k.endsWith('.avro')) && lostKeys.some((k) => k.endsWith('.manifest.json')), `responses lost: ${lostKeys.join(', ')}`);
    assert.deepEqual(moved, { events: 12, duplicates: 0, clientRetries: 0 });
    const keys = (await storage.list(layout.late(ref))).map((o) => o.key);
    const manifests = keys.filter((k) => k.endsWith('.manifest.json'));
    assert.equal(manifests.length, 1);
    const m = JSON.parse((await storage.get(manifests[0]!)).toString('utf8')) as { events: number; files: Array<{ name: string }>; publishers: Record<string, Array<[number, number]>> };
    assert.equal(m.events, 12);
    assert.deepEqual(m.publishers, { 'late-pub': [[40, 52]] });
    assert.deepEqual(m.files.map((f) => layout.late(ref) + f.name), keys.filter((k) => k.endsWith('.avro')));
    assert.deepEqual(await storage.list('staging/'), []);
  });
});
