// Client event ids end to end (emulator, gateway, SDK, worker, checker, local bucket, 2-second windows): ids are scoped
// by who sent them, so two clients reusing one id both land; and a retry that arrives after its window closed is not
// written to the late area (issue 12 §3).
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveGatewayOptions } from '../../services/gateway/gateway-options.ts';
import { silentLogger } from '../../services/gateway/log.ts';
import { startGateway } from '../../services/gateway/server.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import { windowOf } from '../../services/wire/window.ts';
import { postEvents } from '../gateway/gateway-kit.ts';
import { readWithFastavro, startPipeline, WINDOW_S, type PipelineKit } from '../helpers/pipeline-kit.ts';
import { searchPerformed } from '../helpers/sample-events.ts';

const TYPE = 'search_performed';
const ALICE = 'alice_token_0123456789abcdef';
const BOB = 'bob_token_0123456789abcdef';

/** Resolves at the start of a window, so what is sent right after shares one window. */
async function atWindowStart(): Promise<number> {
  const windowMs = WINDOW_S * 1000;
  await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 20));
  return windowOf(Date.now() * 1000, WINDOW_S);
}

async function closedRecords(kit: PipelineKit, window: number) {
  const [manifest] = await kit.waitForClosed(TYPE, [window]);
  const dir = path.join(kit.storage.root, layout.closed({ type: TYPE, index: window, lengthS: WINDOW_S }));
  return { manifest: manifest!, records: await readWithFastavro(manifest!.files.map((f) => path.join(dir, f.name))) };
}

describe('client event ids in a pipeline', () => {
  it('two clients sending the same event_id in one window both land (two gateway tokens, two SDK origins); a restarted process keeps its scope, so its retry is dropped', async () => {
    const kit = await startPipeline();
    kit.startChecker();
    const gatewayPublisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, origin: 'gateway', lingerMs: 5 });
    const gateway = await startGateway({
      publisher: gatewayPublisher,
      registry: kit.registry,
      options: resolveGatewayOptions({}, { mode: 'local', port: 0, windowS: WINDOW_S, authEnabled: true, tokens: [`alice:${ALICE}`, `bob:${BOB}`] }),
      logger: silentLogger,
    });
    const sdk = (origin: string) => new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, origin, lingerMs: 5 });
    const svcA = sdk('svc-a');
    const svcB = sdk('svc-b');
    const svcARestarted = sdk('svc-a'); // a new incarnation of svc-a: another publisher id, the same origin
    await Promise.all([gatewayPublisher, svcA, svcB, svcARestarted].map((p) => p.ready()));

    const window = await atWindowStart();
    const answers = await Promise.all([
      postEvents(gateway.url, TYPE, [{ event_id: 'e-1', payload: searchPerformed(1) }], { authorization: `Bearer ${ALICE}` }),
      postEvents(gateway.url, TYPE, [{ event_id: 'e-1', payload: searchPerformed(2) }], { authorization: `Bearer ${BOB}` }),
      svcA.publish(TYPE, searchPerformed(3), { eventId: 'e-1' }),
      svcB.publish(TYPE, searchPerformed(4), { eventId: 'e-1' }),
    ]);
    // The restarted svc-a retries what its previous incarnation may not have sent.
    await svcARestarted.publish(TYPE, searchPerformed(5), { eventId: 'e-1' });
    for (const a of answers.slice(0, 2)) assert.equal((a as { status: number }).status, 200);
    await gateway.close();
    await Promise.all([svcA, svcB, svcARestarted].map((p) => p.close()));

    const { manifest, records } = await closedRecords(kit, window);
    const windows = new Set(records.map((r) => windowOf(r.receive_time as number, WINDOW_S)));
    assert.deepEqual([...windows], [window], 'everything was sent in one window');
    assert.deepEqual(records.map((r) => r.event_id).sort(), ['alice:e-1', 'bob:e-1', 'svc-a:e-1', 'svc-b:e-1'], 'one event per sender; the restarted svc-a\'s retry is not there');
    assert.equal(records.find((r) => r.event_id === 'svc-a:e-1')!.publisher, svcA.id, 'the first copy of svc-a:e-1 is kept');
    assert.equal(manifest.duplicatesDropped.clientRetries, 1);
  });

  it('a retry whose copy arrives after its window closed is not in the late area; the rest of its message is', async () => {
    const kit = await startPipeline();
    kit.startChecker();
    const first = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, origin: 'svc', lingerMs: 5 });
    await first.ready();
    const window = await atWindowStart();
    await Promise.all([first.publish(TYPE, searchPerformed(1), { eventId: 'r-1' }), first.publish(TYPE, searchPerformed(2), { eventId: 'r-2' })]);
    await first.close();
    const closed = await closedRecords(kit, window);
    assert.deepEqual(closed.records.map((r) => r.event_id).sort(), ['svc:r-1', 'svc:r-2'], 'the window closed with the originals');

    // The same service's retry reaches Pub/Sub through a process whose clock lags: its events are stamped into the closed window.
    const windowStartUs = window * WINDOW_S * 1_000_000;
    const lagging = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, origin: 'svc', clock: { nowUs: () => windowStartUs + 500_000 }, publisherId: 'svc-lagging' });
    await lagging.publishMany(TYPE, [{ payload: searchPerformed(3), eventId: 'r-1' }, { payload: searchPerformed(4), eventId: 'r-3' }, { payload: searchPerformed(5) }]);
    await lagging.close();

    const lateDir = layout.late({ type: TYPE, index: window, lengthS: WINDOW_S });
    const deadline = Date.now() + 60_000;
    const lateManifests = async () => (await kit.storage.list(lateDir)).filter((o) => o.key.endsWith('.manifest.json'));
    while ((await lateManifests()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const manifests = await Promise.all((await lateManifests()).map(async (o) => JSON.parse((await kit.storage.get(o.key)).toString('utf8')) as { events: number; clientRetriesDropped: number }));
    assert.equal(manifests.length, 1, `one late file (${kit.diagnose(TYPE)})`);
    const late = await readWithFastavro((await kit.storage.list(lateDir)).filter((o) => o.key.endsWith('.avro')).map((o) => path.join(kit.storage.root, o.key)));
    assert.deepEqual(late.map((r) => r.event_id).sort(), ['svc-lagging-2', 'svc:r-3'], 'the retry of svc:r-1 is not in late/');
    assert.deepEqual([manifests[0]!.events, manifests[0]!.clientRetriesDropped], [2, 1]);
    // Staging goes once the coverage holding the moved seqs is saved (at most once a second): give it a few rounds.
    const stagingDeadline = Date.now() + 15_000;
    while ((await kit.storage.list(`staging/${TYPE}/`)).length > 0 && Date.now() < stagingDeadline) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await kit.storage.list(`staging/${TYPE}/`), [], 'nothing left staged');
  });
});
