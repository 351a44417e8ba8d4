// The worker process exports over OTLP/HTTP to a real OpenTelemetry Collector (test/telemetry/otel-collector.ts): its events-staged
// counter, and a hourglass.stage span per message, named by the batch's identity and in the trace of the gateway's hourglass.publish
// span of that message (a child of it, through the message's traceparent attribute); the staging manifest keeps that traceparent.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import type { StagingManifest } from '../../services/storage/staging-manifest.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices } from '../helpers/service-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { otlpEnv, startCollector, type Collector } from './otel-collector.ts';

const IDENTITY = ['hourglass.batch.id', 'hourglass.type', 'hourglass.publisher', 'hourglass.first_seq', 'hourglass.count', 'hourglass.window'];

async function manifests(dir: string): Promise<StagingManifest[]> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.manifest.json'));
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8')) as StagingManifest));
}

describe('worker process: metrics and spans arrive at an OTLP collector', () => {
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

  it('exports hourglass.worker.events_staged and a hourglass.stage span that is the child of the message\'s hourglass.publish span', async () => {
    const bucket = await tempDir('hg-otlp-worker-');
    const env = { PUBSUB_EMULATOR_HOST: stack.pubsub.host, HOURGLASS_PROJECT: stack.pubsub.projectId, HOURGLASS_MODE: 'local', ...otlpEnv(collector) };
    const worker = startService('services/worker/main.ts', { ...env, HOURGLASS_BUCKET: `file://${bucket}`, HOURGLASS_WORKER_MAX_FILE_AGE_MS: '100' });
    const gateway = startService('services/gateway/main.ts', { ...env, HOURGLASS_PORT: '0', HOURGLASS_HOST: '127.0.0.1' });
    const [, listening] = await Promise.all([worker.line('worker_started'), gateway.line('gateway_listening')]);
    const res = await fetch(`${String(listening.url)}/v1/events/track_played`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ payload: trackPlayed(i) }))),
    });
    assert.equal(res.status, 200, await res.text());

    const staged = await collector.waitForMetric('hourglass.worker.events_staged = 7 from the worker', (m) =>
      m.service === 'hourglass-worker' && m.name === 'hourglass.worker.events_staged' && m.points.some((p) => p.attributes.type === 'track_played' && p.value === 7),
    );
    assert.equal(staged.kind, 'sum');

    const publish = await collector.waitForSpan('the gateway\'s hourglass.publish span', (s) => s.service === 'hourglass-gateway' && s.name === 'hourglass.publish');
    const stage = await collector.waitForSpan('the worker\'s hourglass.stage span', (s) => s.service === 'hourglass-worker' && s.name === 'hourglass.stage');
    assert.equal(stage.kind, SpanKind.CONSUMER + 1, 'a consumer span (OTLP: SPAN_KIND_CONSUMER = 5)');
    assert.equal(stage.status, 0, 'not an error');
    assert.equal(stage.attributes['hourglass.outcome'], 'acked');
    assert.deepEqual(
      IDENTITY.map((k) => stage.attributes[k]),
      IDENTITY.map((k) => publish.attributes[k]),
      'the same batch identity as the publish span',
    );
    assert.equal(stage.attributes['hourglass.count'], 7);
    assert.equal(stage.traceId, publish.traceId, 'the stage span is in the publish span\'s trace');
    assert.equal(stage.parentSpanId, publish.spanId, 'its parent is the publish span');
    assert.equal(typeof stage.attributes['messaging.message.id'], 'string');

    // The staging manifest keeps the publish span's context, for the checker's close span.
    const messages = (await manifests(bucket)).flatMap((m) => m.messages);
    assert.deepEqual(
      messages.map((m) => m.traceparent),
      [`00-${publish.traceId}-${publish.spanId}-01`],
    );

    assert.equal(await gateway.stop(), 0, gateway.stderr());
    assert.equal(await worker.stop(), 0, worker.stderr());
  });
});
