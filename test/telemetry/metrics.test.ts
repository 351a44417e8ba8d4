// Scrapes /metrics during a real run (emulator, SDK, worker, checker) and checks the figures add up, per type:
// events accepted by publishers = closed + late + lost + abandoned; dead letters and failures are counted by name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Publisher } from '../../services/sdk/index.ts';
import { createLogger } from '../../services/telemetry/logger.ts';
import { startOpsServer } from '../../services/telemetry/ops-server.ts';
import { startTelemetry } from '../../services/telemetry/telemetry.ts';
import { startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';

/** Sums a Prometheus metric's samples whose labels include `where`. */
function sample(text: string, name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(where).every(([k, v]) => labels.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

describe('metrics of a real run', () => {
  it('adds up per type: accepted = closed + late + lost + abandoned; dead letters and failures are counted', async () => {
    const telemetry = startTelemetry({ service: 'test' });
    const kit = await startPipeline();
    const ops = await startOpsServer({ port: 0, host: '127.0.0.1', telemetry, ready: () => true });
    try {
      kit.startChecker();
      const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5 });
      await Promise.all([
        ...Array.from({ length: 600 }, (_, i) => publisher.publish('track_played', trackPlayed(i))),
        ...Array.from({ length: 250 }, (_, i) => publisher.publish('search_performed', searchPerformed(i))),
      ]);
      // One malformed message straight to the topic: the worker must dead-letter it, and count it.
      await kit.stack.client.topic(kit.stack.names.eventTopic('track_played')).publishMessage({ data: Buffer.from('junk'), attributes: { format: 'hg1' } });
      createLogger('test', { write: () => undefined }).warn('something_failed');
      await publisher.close();

      let text = '';
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        text = await (await fetch(`${ops.url}/metrics`)).text();
        const done = ['track_played', 'search_performed'].every(
          (type) => sample(text, 'hourglass_checker_events_closed_total', { type }) >= sample(text, 'hourglass_sdk_events_accepted_total', { type }),
        );
        if (done && sample(text, 'hourglass_worker_messages_dead_lettered_total') >= 1) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const [type, published] of [['track_played', 600], ['search_performed', 250]] as const) {
        assert.equal(sample(text, 'hourglass_sdk_events_accepted_total', { type }), published);
        assert.equal(sample(text, 'hourglass_sdk_events_acknowledged_total', { type }), published);
        const accounted =
          sample(text, 'hourglass_checker_events_closed_total', { type }) +
          sample(text, 'hourglass_checker_events_late_total', { type }) +
          sample(text, 'hourglass_checker_events_lost_total', { type }) +
          sample(text, 'hourglass_checker_events_abandoned_total', { type });
        assert.equal(accounted, published, `${type}: published = closed + late + lost + abandoned`);
        assert.equal(sample(text, 'hourglass_checker_events_lost_total', { type }), 0);
        assert.ok(sample(text, 'hourglass_checker_close_delay_count', { type }) > 0, 'close delay histogram recorded');
      }
      assert.ok(sample(text, 'hourglass_sdk_publish_latency_count') > 0, 'publish latency histogram recorded');
      assert.ok(sample(text, 'hourglass_worker_messages_dead_lettered_total') >= 1, 'the malformed message was dead-lettered and counted');
      assert.equal(sample(text, 'hourglass_failures_total', { event: 'something_failed' }), 1, 'a logged failure is also counted');
      assert.match(text, /hourglass_checker_windows\{[^}]*state="closed"/);
      // The ops server (a plain node:http one, as the worker's and the checker's) is measured by the HTTP instrumentation.
      const measured = (t: string, status: string) => sample(t, 'http_server_request_duration_count', { http_request_method: 'GET', http_response_status_code: status });
      const before = await (await fetch(`${ops.url}/metrics`)).text();
      for (const path of ['/health/live', '/healthz', '/health/ready', '/readyz']) assert.equal((await fetch(`${ops.url}${path}`)).status, 200, path);
      assert.equal((await fetch(`${ops.url}/nope`)).status, 404);
      const after = await (await fetch(`${ops.url}/metrics`)).text();
      assert.ok(measured(after, '200') - measured(before, '200') >= 4, 'http.server.request.duration of the probes');
      assert.equal(measured(after, '404') - measured(before, '404'), 1);
      assert.match(after, /^# UNIT http_server_request_duration s$/m);
      assert.match(after, /^# UNIT hourglass_sdk_publish_latency s$/m, 'publish latency in seconds');
    } finally {
      await ops.close();
      await kit.stop();
      await telemetry.shutdown();
    }
  });
});
