// The gateway app with a stand-in publisher: error mapping (no stack, no internals), routes, probes, metrics and the graceful drain.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { HourglassError } from '../../services/errors/catalogue.ts';
import type { GatewayPublisher } from '../../services/gateway/app.ts';
import { resolveGatewayOptions, type GatewayOptions } from '../../services/gateway/gateway-options.ts';
import { silentLogger } from '../../services/gateway/log.ts';
import { startGateway, type RunningGateway } from '../../services/gateway/server.ts';
import { Registry } from '../../services/registry/registry.ts';
import { startTelemetry, type Telemetry } from '../../services/telemetry/telemetry.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { hasSample, parseSamples, sampleSum } from '../telemetry/prometheus-text.ts';
import { assertError, assertNoLeak, eventually, postEvents, request, stubPublisher } from './gateway-kit.ts';

const TOKEN = 'app_test_token_0123456789';

describe('gateway app (stand-in publisher)', () => {
  let registry: Registry;
  // Before any gateway: instruments made before a meter provider is registered stay no-ops.
  let telemetry: Telemetry;
  const running: RunningGateway[] = [];
  before(async () => {
    telemetry = startTelemetry({ service: 'gateway-test' });
    registry = await Registry.load();
  });
  after(async () => {
    for (const g of running) await g.close();
    await telemetry.shutdown();
  });

  const start = async (publisher: GatewayPublisher, overrides: Partial<GatewayOptions> = {}) => {
    const options = resolveGatewayOptions({}, { mode: 'local', port: 0, ...overrides });
    const gateway = await startGateway({ publisher, registry, options, logger: silentLogger, metricsHandler: telemetry.metricsHandler });
    running.push(gateway);
    return gateway;
  };
  const events = (n: number) => Array.from({ length: n }, (_, i) => ({ payload: trackPlayed(i) }));

  it('answers 200 with the count and passes type, items and ?version to publishMany', async () => {
    const publisher = stubPublisher();
    const gw = await start(publisher);
    const res = await postEvents(gw.url, 'track_played', [{ payload: trackPlayed(1, false), event_id: 'c1' }], {}, '?version=1');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { accepted: 1 });
    assert.deepEqual(publisher.calls, [{ type: 'track_played', count: 1, version: 1, scope: 'anonymous' }], 'authentication off: the client is "anonymous"');
  });

  it('accepts a gzip-compressed body; refuses an unknown Content-Encoding with 415', async () => {
    const gw = await start(stubPublisher());
    const gz = gzipSync(JSON.stringify(events(3)));
    const ok = await request(`${gw.url}/v1/events/track_played`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gz });
    assert.deepEqual(ok.json, { accepted: 3 });
    const bad = await request(`${gw.url}/v1/events/track_played`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'lzma' }, body: 'xx' });
    assertError(bad, 415, 'HG_BAD_CONTENT_TYPE', /unsupported Content-Encoding "lzma"/);
  });

  it('client faults that express or body-parser find are 4xx, never 500: a corrupt compressed body, a malformed URL, a gzip bomb', async () => {
    const gw = await start(stubPublisher(), { maxBodyBytes: 64 * 1024 });
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await request(`${gw.url}/v1/events/track_played`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: 'not compressed at all' });
      assertError(res, 400, 'HG_BAD_REQUEST', /could not be decompressed/);
    }
    assertError(await postEvents(gw.url, '%E0%A4%A', events(1)), 400, 'HG_BAD_REQUEST', /malformed percent-encoding in the URL/);
    // 10 MB of zeros in a few KB of gzip: the limit applies to the decompressed body.
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    const res = await request(`${gw.url}/v1/events/track_played`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
    assertError(res, 413, 'HG_BODY_TOO_LARGE', /larger than the limit of 65536 bytes/);
  });

  it('re-bases the SDK\'s invalid-event paths onto the request (payload.<field>)', async () => {
    const publisher = stubPublisher({
      publishMany: async () => {
        throw new HourglassError('HG_INVALID_EVENT', 'invalid', { details: [{ index: 1, path: 'ms_played', message: 'expected a long' }] });
      },
    });
    const gw = await start(publisher);
    const error = assertError(await postEvents(gw.url, 'track_played', events(2)), 400, 'HG_INVALID_EVENT', /1 invalid event, none accepted; first: event 1 "payload.ms_played"/);
    assert.deepEqual(error.details, [{ index: 1, path: 'payload.ms_played', message: 'expected a long' }]);
  });

  it('an unexpected error is a 500 with a generic message: no stack, no message, no path', async () => {
    const gw = await start(
      stubPublisher({
        publishMany: async () => {
          throw new Error('boom at /work/main/services/sdk/publisher.ts:123:45 with secret internals');
        },
      }),
    );
    const res = await postEvents(gw.url, 'track_played', events(1));
    const error = assertError(res, 500, 'HG_INTERNAL', /^internal error; retry the request$/);
    assert.equal(error.details, undefined);
    assert.doesNotMatch(res.text, /boom|secret/);
  });

  it('a Pub/Sub failure is a 503 with Retry-After and a public message (not the gRPC error, topic or address)', async () => {
    const gw = await start(
      stubPublisher({
        publishMany: async () => {
          throw new HourglassError('HG_PUBSUB_UNAVAILABLE', 'Pub/Sub did not accept the message to hourglass-track_played within 60000 ms: 14 UNAVAILABLE: connect ECONNREFUSED 10.0.0.7:443');
        },
      }),
      { retryAfterS: 5 },
    );
    const res = await postEvents(gw.url, 'track_played', events(1));
    const error = assertError(res, 503, 'HG_PUBSUB_UNAVAILABLE', /Pub\/Sub is unavailable.*retry the whole request/);
    assert.equal(error.retryable, true);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.doesNotMatch(res.text, /10\.0\.0\.7|ECONNREFUSED|hourglass-track_played/);
  });

  it('sheds load before reading the body: 503 while the publisher is unhealthy, 429 while its buffer is full', async () => {
    let healthy = false;
    let full = false;
    const publisher = stubPublisher({ isHealthy: () => healthy, wouldBlock: () => full });
    const gw = await start(publisher, { retryAfterS: 3 });
    const unavailable = await postEvents(gw.url, 'track_played', events(1));
    assertError(unavailable, 503, 'HG_PUBSUB_UNAVAILABLE', /Pub\/Sub is unavailable/);
    assert.equal(unavailable.headers.get('retry-after'), '3');
    const notReady = await request(`${gw.opsUrl}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.json, { status: 'unavailable', reason: 'Pub/Sub has been failing' });
    healthy = true;
    full = true;
    const busy = await postEvents(gw.url, 'track_played', events(1));
    assertError(busy, 429, 'HG_BACKPRESSURE', /publish buffer is full: retry after 3 s/);
    assert.equal(busy.headers.get('retry-after'), '3');
    assert.deepEqual(publisher.calls, [], 'nothing reached the publisher');
  });

  it('answers unknown routes with 404 and wrong methods with 405 + Allow, in JSON', async () => {
    const gw = await start(stubPublisher());
    assertError(await request(`${gw.url}/v2/whatever`), 404, 'HG_NO_ROUTE', /no route GET \/v2\/whatever/);
    const get = await request(`${gw.url}/v1/events/track_played`);
    assertError(get, 405, 'HG_METHOD_NOT_ALLOWED');
    assert.equal(get.headers.get('allow'), 'POST');
    const post = await request(`${gw.opsUrl}/healthz`, { method: 'POST' });
    assertError(post, 405, 'HG_METHOD_NOT_ALLOWED');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const putSpec = await request(`${gw.url}/openapi.json`, { method: 'PUT' });
    assertError(putSpec, 405, 'HG_METHOD_NOT_ALLOWED');
  });

  it('scopes event ids by the client the token belongs to: its name, or key-<12 hex of its SHA-256> when unnamed', async () => {
    const named = 'alice_token_0123456789';
    const unnamed = 'anon_token_0123456789ab';
    const publisher = stubPublisher();
    const gw = await start(publisher, { authEnabled: true, tokens: [`alice:${named}`, unnamed, `alice:${named}-rotated`] });
    for (const token of [named, unnamed, `${named}-rotated`]) {
      assert.equal((await postEvents(gw.url, 'track_played', events(1), { authorization: `Bearer ${token}` })).status, 200);
    }
    const key = `key-${createHash('sha256').update(unnamed).digest('hex').slice(0, 12)}`;
    assert.deepEqual(publisher.calls.map((c) => c.scope), ['alice', key, 'alice']);
    // The name is not part of the token: "alice:<token>" as a bearer token is refused.
    assertError(await postEvents(gw.url, 'track_played', events(1), { authorization: `Bearer alice:${named}` }), 401, 'HG_UNAUTHORIZED');
  });

  it('probes and metrics are on the ops port only, with no token; the public port serves the API and its description', async () => {
    const gw = await start(stubPublisher(), { authEnabled: true, tokens: [TOKEN] });
    assert.notEqual(gw.opsPort, gw.port);
    assert.deepEqual((await request(`${gw.opsUrl}/healthz`)).json, { status: 'ok' });
    assert.deepEqual((await request(`${gw.opsUrl}/readyz`)).json, { status: 'ready' });
    assert.equal((await request(`${gw.opsUrl}/metrics`)).status, 200);
    for (const path of ['/healthz', '/readyz', '/metrics']) assertError(await request(`${gw.url}${path}`), 404, 'HG_NO_ROUTE');
    assertError(await request(`${gw.opsUrl}/v1/events/track_played`, { method: 'POST' }), 404, 'HG_NO_ROUTE');
    const spec = await request(`${gw.url}/openapi.json`);
    assert.equal(spec.status, 200);
    assert.equal((spec.json as { openapi: string }).openapi, '3.1.0');
    const denied = await postEvents(gw.url, 'track_played', events(1));
    assertError(denied, 401, 'HG_UNAUTHORIZED', /missing bearer token/);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="hourglass"');
    // Auth comes first: an unknown type is not revealed to a caller without a token.
    assertError(await postEvents(gw.url, 'no_such_type', events(1)), 401, 'HG_UNAUTHORIZED');
    assert.equal((await postEvents(gw.url, 'track_played', events(1), { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('/metrics counts answers by status and code, events accepted and rejected by type and code, and request durations by route (http.server.request.duration)', async () => {
    const gw = await start(stubPublisher());
    // The instruments are the process's: other tests' gateways count there too, so compare before and after.
    const scrape = async () => {
      const res = await request(`${gw.opsUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = res.text;
      return {
        text,
        ok: sampleSum(text, 'hourglass_gateway_requests_total', { status: '200', code: '' }),
        badRequest: sampleSum(text, 'hourglass_gateway_requests_total', { status: '400', code: 'HG_BAD_REQUEST' }),
        unknownType: sampleSum(text, 'hourglass_gateway_requests_total', { status: '404', code: 'HG_UNKNOWN_TYPE' }),
        accepted: sampleSum(text, 'hourglass_gateway_events_accepted_total', { type: 'track_played' }),
        rejected: sampleSum(text, 'hourglass_gateway_events_rejected_total', { type: 'track_played', code: 'HG_INVALID_EVENT' }),
        // The HTTP instrumentation's histogram (telemetry.ts), by the route app.ts names.
        durations: sampleSum(text, 'http_server_request_duration_count', { http_route: '/v1/events/:type', http_request_method: 'POST' }),
        unrouted: parseSamples(text)
          .filter((s) => s.name === 'http_server_request_duration_count' && s.labels.http_request_method === 'GET' && s.labels.http_response_status_code === '404' && s.labels.http_route === undefined)
          .reduce((sum, s) => sum + s.value, 0),
      };
    };
    const before = await scrape();
    await postEvents(gw.url, 'track_played', events(4));
    await postEvents(gw.url, 'track_played', 'not json');
    await postEvents(gw.url, 'track_played', [{ payload: trackPlayed(1) }, 'not an event', { payload: trackPlayed(2) }]);
    await postEvents(gw.url, 'no_such_type', events(1));
    assert.equal((await request(`${gw.url}/no/such/path`)).status, 404);
    const after = await scrape();
    assert.deepEqual(
      { ok: after.ok - before.ok, badRequest: after.badRequest - before.badRequest, unknownType: after.unknownType - before.unknownType },
      { ok: 1, badRequest: 1, unknownType: 1 },
    );
    assert.equal(after.accepted - before.accepted, 4);
    assert.equal(after.rejected - before.rejected, 3, 'every event of a refused request is counted as rejected');
    assert.equal(after.durations - before.durations, 4);
    assert.ok(hasSample(after.text, 'http_server_request_duration_bucket', { http_route: '/v1/events/:type', http_response_status_code: '200', url_scheme: 'http', le: '+Inf' }));
    assert.ok(hasSample(after.text, 'http_server_request_duration_bucket', { http_route: '/v1/events/:type', http_response_status_code: '404', le: '+Inf' }), 'an unknown type is still the route, never its path');
    assert.equal(after.unrouted - before.unrouted, 1, 'a path no route matched is measured, without http.route (never its path)');
    assert.ok(hasSample(after.text, 'http_server_request_duration_count', { http_route: '/metrics', http_response_status_code: '200' }), 'the ops app names its routes too');
    assert.ok(!after.text.includes('hourglass_gateway_request_duration'), 'the hand-made histogram is gone');
    assert.ok(!after.text.includes('no_such_type'), 'a type the registry does not know never becomes a label value');
    for (const gauge of ['hourglass_gateway_in_flight_requests', 'hourglass_gateway_draining', 'hourglass_gateway_publisher_healthy', 'hourglass_gateway_publisher_buffered_events']) {
      assert.ok(hasSample(after.text, gauge), `${gauge} is exported`);
    }
  });

  it('without telemetry, /metrics answers 404', async () => {
    const gateway = await startGateway({ publisher: stubPublisher(), registry, options: resolveGatewayOptions({}, { mode: 'local', port: 0 }), logger: silentLogger });
    running.push(gateway);
    assertError(await request(`${gateway.opsUrl}/metrics`), 404, 'HG_NO_ROUTE', /without telemetry/);
  });

  it('graceful close: stops accepting, answers the request in flight, then closes the publisher, once', async () => {
    let release!: () => void;
    const order: string[] = [];
    const publisher = stubPublisher({
      publishMany: () =>
        new Promise<void>((resolve) => {
          release = () => {
            order.push('request acknowledged');
            resolve();
          };
        }),
      close: async () => {
        order.push('publisher closed');
      },
    });
    const gw = await start(publisher);
    const inFlight = postEvents(gw.url, 'track_played', events(2));
    await eventually('the request to reach the publisher', () => publisher.calls.length === 1);
    const closing = gw.close();
    assert.equal(gw.lifecycle.draining, true);
    await assert.rejects(fetch(`${gw.url}/healthz`), 'no new connection is accepted while draining');
    release();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { accepted: 2 });
    assert.equal(res.headers.get('connection'), 'close');
    assert.deepEqual(await closing, { drained: true, publisherClosed: true, abandonedRequests: 0 });
    assert.deepEqual(order, ['request acknowledged', 'publisher closed']);
    assert.equal(gw.close(), closing, 'close() is idempotent');
  });

  it('a request that arrives while draining (on a kept-alive connection) gets 503 HG_SHUTTING_DOWN with Connection: close', async () => {
    const publisher = stubPublisher();
    const gw = await start(publisher);
    gw.lifecycle.startDraining();
    const res = await postEvents(gw.url, 'track_played', events(1));
    const error = assertError(res, 503, 'HG_SHUTTING_DOWN', /shutting down/);
    assert.equal(error.retryable, true);
    assert.equal(res.headers.get('connection'), 'close');
    const ready = await request(`${gw.opsUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json, { status: 'unavailable', reason: 'shutting down' });
    assertNoLeak(ready);
    assert.deepEqual(publisher.calls, []);
  });
});
