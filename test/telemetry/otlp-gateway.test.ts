// The gateway process exports over OTLP/HTTP to a real OpenTelemetry Collector (test/telemetry/otel-collector.ts): its own request counter,
// the HTTP instrumentation's http.server.request.duration (stable semantic conventions, seconds, with the express route),
// the Node runtime's metrics, and a hourglass.publish span per batch message its publisher sends, named by the batch's identity.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices } from '../helpers/service-process.ts';
import { otlpEnv, startCollector, type Collector } from './otel-collector.ts';

describe('gateway process: metrics and spans arrive at an OTLP collector', () => {
  let stack: LocalStack;
  let collector: Collector;
  before(async () => {
    [stack, collector] = await Promise.all([Registry.load().then((registry) => startLocalStack({ registry })), startCollector()]);
  });
  after(async () => {
    stopAllServices();
    await Promise.all([stack?.stop(), collector?.stop()]);
  });

  it('exports hourglass.gateway.requests, http.server.request.duration, nodejs.eventloop.utilization and a hourglass.publish span with the batch identity', async () => {
    const gateway = startService('services/gateway/main.ts', {
      PUBSUB_EMULATOR_HOST: stack.pubsub.host,
      HOURGLASS_PROJECT: stack.pubsub.projectId,
      HOURGLASS_MODE: 'local',
      HOURGLASS_PORT: '0',
      HOURGLASS_HOST: '127.0.0.1',
      ...otlpEnv(collector),
    });
    const listening = await gateway.line('gateway_listening');
    const publisher = String(listening.publisher);
    const res = await fetch(`${String(listening.url)}/v1/events/track_played`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ payload: trackPlayed(i) }))),
    });
    assert.equal(res.status, 200, await res.text());

    const requests = await collector.waitForMetric('hourglass.gateway.requests from the gateway', (m) => m.service === 'hourglass-gateway' && m.name === 'hourglass.gateway.requests');
    assert.equal(requests.kind, 'sum');
    assert.deepEqual(
      requests.points.map((p) => [p.attributes.status, p.attributes.code, p.value]),
      [['200', '', 1]],
      'one request answered 200',
    );
    assert.equal(requests.unit, '{request}');
    // How long it took: the HTTP instrumentation's histogram, by the stable semantic conventions' names and unit.
    const duration = await collector.waitForMetric(
      'http.server.request.duration from the gateway, for its POST',
      (m) => m.service === 'hourglass-gateway' && m.name === 'http.server.request.duration' && m.points.some((p) => p.attributes['http.request.method'] === 'POST'),
    );
    assert.equal(duration.kind, 'histogram');
    assert.equal(duration.unit, 's');
    assert.equal(duration.scope, '@opentelemetry/instrumentation-http');
    const post = duration.points.filter((p) => p.attributes['http.request.method'] === 'POST');
    assert.deepEqual(
      post.map((p) => [p.attributes['http.route'], p.attributes['http.response.status_code'], p.attributes['url.scheme'], p.value]),
      [['/v1/events/:type', 200, 'http', 1]],
      'one POST, named by its express route (not its path), answered 200',
    );
    const elu = await collector.waitForMetric('the runtime metric nodejs.eventloop.utilization', (m) => m.service === 'hourglass-gateway' && m.name === 'nodejs.eventloop.utilization');
    assert.equal(elu.unit, '1');
    await collector.waitForMetric('the runtime metric v8js.memory.heap.used', (m) => m.service === 'hourglass-gateway' && m.name === 'v8js.memory.heap.used' && m.unit === 'By');

    const span = await collector.waitForSpan('a hourglass.publish span from the gateway', (s) => s.service === 'hourglass-gateway' && s.name === 'hourglass.publish');
    assert.equal(span.kind, SpanKind.PRODUCER + 1, 'a producer span (OTLP numbers kinds from 1: SPAN_KIND_PRODUCER = 4)');
    assert.equal(span.status, 0, 'not an error');
    assert.deepEqual(
      Object.fromEntries(['hourglass.batch.id', 'hourglass.type', 'hourglass.publisher', 'hourglass.first_seq', 'hourglass.count', 'messaging.system', 'messaging.destination.name'].map((k) => [k, span.attributes[k]])),
      {
        'hourglass.batch.id': `track_played/${publisher}/0`,
        'hourglass.type': 'track_played',
        'hourglass.publisher': publisher,
        'hourglass.first_seq': 0,
        'hourglass.count': 5,
        'messaging.system': 'gcp_pubsub',
        'messaging.destination.name': stack.names.eventTopic('track_played'),
      },
    );
    assert.equal(typeof span.attributes['hourglass.window'], 'number');
    assert.match(span.traceId, /^[0-9a-f]{32}$/);

    assert.equal(await gateway.stop(), 0, gateway.stderr());
  });
});
