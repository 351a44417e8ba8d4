// The gateway and worker processes (services/*/main.ts) on the emulator: each serves /metrics in Prometheus format and logs JSON lines with a level and an event.
//
// The gateway's /metrics holds its own instruments and its publisher's (accepted and acknowledged per
// type, publish latency); the worker's, on its ops port, events staged per type, its backlog and memory.
// Both measure their HTTP servers: http.server.request.duration (the HTTP instrumentation's).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices } from '../helpers/service-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { hasSample, sampleSum } from './prometheus-text.ts';

/** A cap so a broken run ends; nothing is asserted about time. */
const WAIT_MS = 30_000;

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

describe('gateway and worker processes: /metrics and JSON logs', () => {
  let registry: Registry;
  let stack: LocalStack;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
  });
  after(async () => {
    stopAllServices();
    await stack?.stop();
  });

  it('the gateway counts requests and its publisher per type; the worker counts events staged per type and shows its backlog and memory', async () => {
    const env = { PUBSUB_EMULATOR_HOST: stack.pubsub.host, HOURGLASS_PROJECT: stack.pubsub.projectId, HOURGLASS_MODE: 'local' };
    const worker = startService('services/worker/main.ts', {
      ...env,
      HOURGLASS_BUCKET: `file://${await tempDir('hg-service-metrics-')}`,
      HOURGLASS_WORKER_MAX_FILE_AGE_MS: '100',
      HOURGLASS_OPS_PORT: '0',
      HOURGLASS_OPS_HOST: '127.0.0.1',
    });
    const gateway = startService('services/gateway/main.ts', { ...env, HOURGLASS_PORT: '0', HOURGLASS_HOST: '127.0.0.1' });
    const [workerStarted, listening] = await Promise.all([worker.line('worker_started'), gateway.line('gateway_listening')]);
    const workerOps = String(workerStarted.ops);
    const gatewayUrl = String(listening.url);
    assert.match(workerOps, /^http:\/\/127\.0\.0\.1:\d+$/);
    // Cloud Run's probes call /health/live; /healthz and /readyz stay as aliases.
    for (const path of ['/health/ready', '/readyz']) assert.equal((await fetch(`${workerOps}${path}`)).status, 200, `a running worker is ready (${path})`);
    for (const path of ['/health/live', '/healthz']) assert.equal((await fetch(`${workerOps}${path}`)).status, 200, path);

    const post = (type: string, body: unknown) =>
      fetch(`${gatewayUrl}/v1/events/${type}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const sent = { track_played: 0, search_performed: 0 };
    for (const [type, make, n] of [['track_played', trackPlayed, 25], ['track_played', trackPlayed, 15], ['search_performed', searchPerformed, 10]] as const) {
      const res = await post(type, Array.from({ length: n }, (_, i) => ({ payload: make(sent[type] + i) })));
      assert.equal(res.status, 200, await res.text());
      sent[type] += n;
    }
    assert.equal((await post('track_played', 'not json')).status, 400);
    assert.equal((await post('no_such_type', [{ payload: {} }])).status, 404);

    // Gateway: its own counters, and the SDK's per type (the publisher runs inside it).
    const g = await scrape(String(listening.opsUrl));
    for (const [type, n] of Object.entries(sent)) {
      assert.equal(sampleSum(g, 'hourglass_sdk_events_accepted_total', { type }), n, `sdk accepted ${type}`);
      assert.equal(sampleSum(g, 'hourglass_sdk_events_acknowledged_total', { type }), n, `sdk acknowledged ${type} (the gateway answers 200 only after Pub/Sub acknowledged)`);
      assert.equal(sampleSum(g, 'hourglass_gateway_events_accepted_total', { type }), n, `gateway accepted ${type}`);
      assert.ok(sampleSum(g, 'hourglass_sdk_publish_latency_count', { type }) > 0, `publish latency of ${type} recorded`);
    }
    assert.equal(sampleSum(g, 'hourglass_gateway_requests_total', { status: '200', code: '' }), 3);
    assert.equal(sampleSum(g, 'hourglass_gateway_requests_total', { status: '400', code: 'HG_BAD_REQUEST' }), 1);
    assert.equal(sampleSum(g, 'hourglass_gateway_requests_total', { status: '404', code: 'HG_UNKNOWN_TYPE' }), 1);
    assert.equal(sampleSum(g, 'http_server_request_duration_count', { http_request_method: 'POST', http_route: '/v1/events/:type' }), 5, 'every POST, by its route');
    assert.equal(sampleSum(g, 'http_server_request_duration_count', { http_request_method: 'POST', http_route: '/v1/events/:type', http_response_status_code: '404' }), 1);
    assert.equal(sampleSum(g, 'hourglass_gateway_in_flight_requests'), 0);
    assert.equal(sampleSum(g, 'hourglass_gateway_publisher_healthy'), 1);
    assert.ok(hasSample(g, 'target_info', { service_name: 'hourglass-gateway' }));

    // Worker: every event staged, counted per type; the backlog drains back to nothing held.
    let w = '';
    await waitUntil(
      'the worker to stage every event and ack it',
      async () => {
        w = await scrape(workerOps);
        return Object.entries(sent).every(([type, n]) => sampleSum(w, 'hourglass_worker_events_staged_total', { type }) >= n) && sampleSum(w, 'hourglass_worker_held_messages') === 0;
      },
      WAIT_MS,
      100,
    );
    for (const [type, n] of Object.entries(sent)) assert.equal(sampleSum(w, 'hourglass_worker_events_staged_total', { type }), n, `staged ${type}`);
    for (const gauge of ['hourglass_worker_held_messages', 'hourglass_worker_buffered_bytes', 'hourglass_worker_writes_in_flight']) assert.ok(hasSample(w, gauge), `${gauge} is exported`);
    assert.ok(sampleSum(w, 'hourglass_worker_memory_rss') > 0, 'RSS');
    assert.ok(sampleSum(w, 'hourglass_worker_memory_heap_used') > 0, 'heap used');
    assert.ok(sampleSum(w, 'http_server_request_duration_count', { http_request_method: 'GET', http_response_status_code: '200' }) >= 4, 'the worker\'s ops server measures its requests (the probes above)');
    assert.ok(hasSample(w, 'target_info', { service_name: 'hourglass-worker' }));

    assert.equal(await gateway.stop(), 0, gateway.stderr());
    assert.equal(await worker.stop(), 0, worker.stderr());
    for (const [service, p, events] of [['gateway', gateway, ['gateway_listening', 'gateway_stopped']], ['worker', worker, ['worker_started', 'worker_stopped']]] as const) {
      assert.ok(p.lines.length > 0);
      for (const l of p.lines) {
        assert.ok(typeof l.level === 'string' && typeof l.event === 'string' && l.service === service, `${service} logs JSON lines with level, event and service: ${JSON.stringify(l)}`);
      }
      for (const event of events) assert.ok(p.lines.some((l) => l.event === event), `${service} logged ${event}`);
    }
  });
});
