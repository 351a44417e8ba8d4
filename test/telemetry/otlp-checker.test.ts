// The checker process exports over OTLP/HTTP to a real OpenTelemetry Collector (test/telemetry/otel-collector.ts): its windows-closed
// counter, and a hourglass.close span per window it closes (type, window, status, events) in the trace of the gateway's
// hourglass.publish span of the window's first message, linked to the publish span of every message (the batch identities on the
// links). The path: gateway → Pub/Sub emulator → worker (staging manifest keeps the traceparent) → checker, 2 s windows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices } from '../helpers/service-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { otlpEnv, startCollector, type Collector } from './otel-collector.ts';

/** A cap so a broken run ends; nothing is asserted about time. */
const WAIT_MS = 60_000;

describe('checker process: metrics and spans arrive at an OTLP collector', () => {
  let stack: LocalStack;
  let collector: Collector;
  before(async () => {
    collector = await startCollector();
    stack = await startLocalStack({ registry: await Registry.load() });
  });
  after(async () => {
    stopAllServices();
    await Promise.all([stack?.stop(), collector?.stop()]);
  });

  it('exports hourglass.checker.windows.closed and a hourglass.close span in the trace of the window\'s publish span, linked to each', async (t) => {
    const bucket = `file://${await tempDir('hg-otlp-checker-')}`;
    const env = { PUBSUB_EMULATOR_HOST: stack.pubsub.host, HOURGLASS_PROJECT: stack.pubsub.projectId, HOURGLASS_MODE: 'local', HOURGLASS_WINDOW_S: '2', ...otlpEnv(collector) };
    const worker = startService('services/worker/main.ts', { ...env, HOURGLASS_BUCKET: bucket, HOURGLASS_WORKER_MAX_FILE_AGE_MS: '100' });
    const checker = startService('services/checker/main.ts', { ...env, HOURGLASS_BUCKET: bucket, HOURGLASS_CHECKER_TICK_MS: '200', HOURGLASS_LIVENESS_MS: '3000', HOURGLASS_MAX_WAIT_MS: '8000' });
    const gateway = startService('services/gateway/main.ts', { ...env, HOURGLASS_PORT: '0', HOURGLASS_HOST: '127.0.0.1' });
    const [, , listening] = await Promise.all([worker.line('worker_started'), checker.line('checker_started'), gateway.line('gateway_listening')]);
    const post = (from: number, n: number) =>
      fetch(`${String(listening.url)}/v1/events/track_played`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: n }, (_, i) => ({ payload: trackPlayed(from + i) }))),
      });
    // Two requests, so the window is likely to hold two batch messages (two links); the test holds for one too.
    for (const [from, n] of [[0, 6], [6, 4]] as const) {
      const res = await post(from, n);
      assert.equal(res.status, 200, await res.text());
    }

    // Every message was published under a span of its own; the requests may straddle a window's end, so each window is checked.
    let publishes: Awaited<ReturnType<Collector['spans']>> = [];
    const published = async () => (publishes = (await collector.spans()).filter((s) => s.service === 'hourglass-gateway' && s.name === 'hourglass.publish'));
    await waitUntil('publish spans of all 10 events', async () => (await published()).reduce((n, p) => n + Number(p.attributes['hourglass.count']), 0) === 10, WAIT_MS, 100);
    const windows = [...new Set(publishes.map((p) => p.attributes['hourglass.window']))];
    for (const window of windows) {
      const mine = publishes.filter((p) => p.attributes['hourglass.window'] === window);
      const close = await collector.waitForSpan(
        `the checker's hourglass.close span of track_played window ${String(window)}`,
        (s) => s.service === 'hourglass-checker' && s.name === 'hourglass.close' && s.attributes['hourglass.type'] === 'track_played' && s.attributes['hourglass.window'] === window,
        WAIT_MS,
      );
      assert.equal(close.kind, SpanKind.INTERNAL + 1, 'an internal span (OTLP: SPAN_KIND_INTERNAL = 1)');
      assert.equal(close.status, 0, 'not an error');
      assert.equal(close.attributes['hourglass.status'], 'complete');
      assert.equal(close.attributes['hourglass.events'], mine.reduce((n, p) => n + Number(p.attributes['hourglass.count']), 0), 'events: all the window\'s messages');
      const closedLine = checker.lines.find((l) => l.event === 'window_closed' && l.type === 'track_played' && l.window === close.attributes['hourglass.window.start']);
      assert.ok(closedLine, 'the checker logged that window as closed');
      // The log line joins the close's trace (Cloud Logging's trace fields).
      assert.equal(closedLine['logging.googleapis.com/trace'], `projects/${stack.pubsub.projectId}/traces/${close.traceId}`, 'the window_closed line carries the close span\'s trace');
      assert.equal(closedLine['logging.googleapis.com/spanId'], close.spanId);
      // The close joins the trace of one of the window's publish spans and links to each.
      const parent = mine.find((p) => p.spanId === close.parentSpanId);
      assert.ok(parent, `the close span's parent (${close.parentSpanId}) is a publish span of the window (${mine.map((p) => p.spanId).join(', ')})`);
      assert.equal(close.traceId, parent.traceId, 'the close span is in that publish span\'s trace');
      assert.deepEqual(
        close.links.map((l) => `${l.traceId}/${l.spanId} ${String(l.attributes['hourglass.batch.id'])}`).sort(),
        mine.map((p) => `${p.traceId}/${p.spanId} ${String(p.attributes['hourglass.batch.id'])}`).sort(),
        'one link per message of the window, to its publish span, naming its batch',
      );
    }
    t.diagnostic(`${publishes.length} publish spans in ${windows.length} window(s)`);

    const closed = await collector.waitForMetric('hourglass.checker.windows.closed from the checker', (m) =>
      m.service === 'hourglass-checker' && m.name === 'hourglass.checker.windows.closed' && m.points.some((p) => p.attributes.type === 'track_played' && p.attributes.status === 'complete' && p.value >= 1),
    );
    assert.equal(closed.kind, 'sum');

    assert.equal(await gateway.stop(), 0, gateway.stderr());
    assert.equal(await worker.stop(), 0, worker.stderr());
    await checker.stop();
  });
});
