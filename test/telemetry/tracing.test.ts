// tracing.ts in process, spans kept in memory: the publish → stage → close chain by the batch's identity, and nothing written when tracing is off.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { MAX_CLOSE_LINKS, stagedTraceparent, stageSettled, stageStarted, traceClose, tracePublish } from '../../services/telemetry/tracing.ts';

const BATCH = { type: 'track_played', publisher: 'gw-1', firstSeq: 40, count: 5, window: 7 };
const WIRE = { format: 'hg1', type: 'track_played', publisher: 'gw-1', first_seq: '40', count: '5', window: '7' };

function tracing(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  // A link limit above tracing.ts's own, so its cap is what a test sees.
  trace.setGlobalTracerProvider(new TracerProvider({ spanLimits: { linkCountLimit: 10 * MAX_CLOSE_LINKS }, spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return exporter;
}

describe('tracing.ts', () => {
  afterEach(() => {
    trace.disable();
    propagation.disable();
  });

  it('without a tracer provider, a message gets no traceparent and nothing is kept', async () => {
    let sent: Record<string, string> | undefined;
    await tracePublish(BATCH, 'topic', WIRE, async (a) => void (sent = a));
    assert.deepEqual(sent, WIRE);
    assert.deepEqual(stagedTraceparent(sent!), {});
  });

  it('publish → stage → close: one trace, the identity on every span, the close linked to each message', async () => {
    const exporter = tracing();
    const sent: Array<Record<string, string>> = [];
    await tracePublish(BATCH, 'topic', WIRE, async (a) => void sent.push(a));
    await tracePublish({ ...BATCH, firstSeq: 45 }, 'topic', { ...WIRE, first_seq: '45' }, async (a) => void sent.push(a));
    const [p1, p2] = exporter.getFinishedSpans();
    assert.equal(sent[0]!.traceparent, `00-${p1!.spanContext().traceId}-${p1!.spanContext().spanId}-01`);
    assert.equal(p1!.attributes['hourglass.batch.id'], 'track_played/gw-1/40');

    const delivered = { id: 'm1', attributes: sent[0]!, subscription: 'sub' };
    stageStarted(delivered);
    stageSettled(delivered, true);
    const stage = exporter.getFinishedSpans()[2]!;
    assert.equal(stage.name, 'hourglass.stage');
    assert.equal(stage.spanContext().traceId, p1!.spanContext().traceId);
    assert.equal(stage.parentSpanContext?.spanId, p1!.spanContext().spanId);
    for (const k of ['hourglass.batch.id', 'hourglass.type', 'hourglass.publisher', 'hourglass.first_seq', 'hourglass.count', 'hourglass.window']) assert.equal(stage.attributes[k], p1!.attributes[k], k);

    const messages = sent.map((a, i) => ({ publisher: 'gw-1', firstSeq: 40 + 5 * i, count: 5, ...stagedTraceparent(a) }));
    const closed = await traceClose({ type: 'track_played', window: 7, windowS: 2, manifests: [{ messages }] }, async () => ({ status: 'complete', events: 10 }));
    assert.deepEqual(closed, { status: 'complete', events: 10 });
    const close = exporter.getFinishedSpans()[3]!;
    assert.equal(close.spanContext().traceId, p1!.spanContext().traceId);
    assert.equal(close.parentSpanContext?.spanId, p1!.spanContext().spanId);
    assert.deepEqual(close.links.map((l) => l.context.spanId), [p1!.spanContext().spanId, p2!.spanContext().spanId]);
    assert.equal(close.links[1]!.attributes?.['hourglass.batch.id'], 'track_played/gw-1/45');
    assert.deepEqual([close.attributes['hourglass.status'], close.attributes['hourglass.events'], close.attributes['hourglass.window.start']], ['complete', 10, '1970-01-01T00:00:14.000Z']);
  });

  it('a nacked message ends its stage span as an error; a failed publish or close records the error and rethrows', async () => {
    const exporter = tracing();
    const delivered = { id: 'm2', attributes: WIRE, subscription: 'sub' };
    stageStarted(delivered);
    stageSettled(delivered, false);
    stageSettled(delivered, false); // once only
    await assert.rejects(tracePublish(BATCH, 'topic', WIRE, () => Promise.reject(new Error('refused'))), /refused/);
    await assert.rejects(traceClose({ type: 't', window: 1, windowS: 2, manifests: [] }, () => Promise.reject(new Error('storage'))), /storage/);
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(spans.map((s) => [s.name, s.status.code]), [['hourglass.stage', 2], ['hourglass.publish', 2], ['hourglass.close', 2]]);
    assert.equal(spans[0]!.parentSpanContext, undefined, 'no traceparent: a trace of its own');
  });

  it('copies only a well-formed traceparent into a manifest; a close links to at most MAX_CLOSE_LINKS messages', async () => {
    for (const bad of ['', 'junk', '00-00000000000000000000000000000001-0000000000000001', `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01 `]) {
      assert.deepEqual(stagedTraceparent({ traceparent: bad }), {}, JSON.stringify(bad));
    }
    const exporter = tracing();
    const messages = Array.from({ length: MAX_CLOSE_LINKS + 10 }, (_, i) => ({ publisher: 'p', firstSeq: i, count: 1, traceparent: `00-${'a'.repeat(32)}-${(i + 1).toString(16).padStart(16, '0')}-01` }));
    await traceClose({ type: 't', window: 1, windowS: 2, manifests: [{ messages }] }, async () => ({ status: 'complete', events: messages.length }));
    assert.equal(exporter.getFinishedSpans()[0]!.links.length, MAX_CLOSE_LINKS);
  });
});
