// The worker's instruments without a pipeline: dead letters labelled by reason and a bounded type; backlog and memory gauges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOpsServer, type OpsServer } from '../../services/telemetry/ops-server.ts';
import { startTelemetry, type Telemetry } from '../../services/telemetry/telemetry.ts';
import { observeWorker } from '../../services/worker/worker-gauges.ts';
import { WorkerCounters } from '../../services/worker/worker-stats.ts';
import { sampleSum } from './prometheus-text.ts';

describe('worker instruments', () => {
  let telemetry: Telemetry;
  let ops: OpsServer;
  before(async () => {
    telemetry = startTelemetry({ service: 'worker-test' });
    ops = await startOpsServer({ port: 0, host: '127.0.0.1', telemetry, ready: () => true });
  });
  after(async () => {
    await ops.close();
    await telemetry.shutdown();
  });
  const scrape = async () => (await fetch(`${ops.url}/metrics`)).text();

  it('counts dead letters by reason and type; a type it never received from a subscription is "_unknown" (bounded labels)', async () => {
    const counters = new WorkerCounters();
    counters.received('track_played', 100);
    counters.received('track_played', 100);
    counters.received('track_played', 100);
    counters.deadLettered('bad_records', 'track_played');
    // Attributes are the publisher's: any valid type name may come, and must not become a label value.
    counters.deadLettered('unknown_type', 'made_up_type_1');
    counters.deadLettered('unknown_type', 'made_up_type_2');
    counters.staged('track_played', 1, 40, 5000);
    const text = await scrape();
    assert.equal(sampleSum(text, 'hourglass_worker_messages_dead_lettered_total', { reason: 'bad_records', type: 'track_played' }), 1);
    assert.equal(sampleSum(text, 'hourglass_worker_messages_dead_lettered_total', { reason: 'unknown_type', type: '_unknown' }), 2);
    assert.doesNotMatch(text, /made_up_type/);
    assert.equal(sampleSum(text, 'hourglass_worker_events_staged_total', { type: 'track_played' }), 40);
    assert.deepEqual(counters.snapshot().deadLettered.unknown_type, 2);
  });

  it('observes the backlog and memory until closed (close is idempotent)', async () => {
    const counters = new WorkerCounters();
    counters.received('track_played', 10);
    counters.received('search_performed', 10);
    counters.writeStarted();
    const memory = { rss: 300, heapUsed: 100, heapTotal: 200, external: 50, arrayBuffers: 10 };
    const gauges = observeWorker(() => counters.snapshot(), () => memory);
    let text = await scrape();
    assert.equal(sampleSum(text, 'hourglass_worker_held_messages'), 2);
    assert.equal(sampleSum(text, 'hourglass_worker_writes_in_flight'), 1);
    assert.equal(sampleSum(text, 'hourglass_worker_memory_rss'), 300);
    assert.equal(sampleSum(text, 'hourglass_worker_memory_heap_used'), 100);
    counters.acked(2);
    text = await scrape();
    assert.equal(sampleSum(text, 'hourglass_worker_held_messages'), 0);
    // After close() the reader keeps the last values (cumulative export) but asks no more: the worker's snapshot is not read again.
    gauges.close();
    gauges.close();
    memory.rss = 999;
    assert.equal(sampleSum(await scrape(), 'hourglass_worker_memory_rss'), 300);
  });
});
