// Spans of a batch's path, publish (SDK) → stage (worker) → close (checker), in one trace, each carrying the batch's identity.
//
// A batch message is one publisher's contiguous seq run of one type, so (type, publisher, first seq) names it
// everywhere: in the message's attributes, in the staging manifest and in the closed window. The publish span puts
// its W3C trace context in the message as the attribute `traceparent` (parseBatchAttributes ignores attributes it
// does not know, so older workers take such messages as before); the worker's stage span is its child, and the
// worker copies the attribute into the staging manifest, from which the checker's close span takes its parent (the
// window's first staged message) and a link to every staged message (up to MAX_CLOSE_LINKS).
//
// Everything records through @opentelemetry/api: until startTelemetry registers a tracer provider (it does when an
// OTLP endpoint is set) spans are no-ops and no traceparent is written, so messages and manifests stay as they were.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';

const TRACER = 'hourglass';
/** The attribute (message and staging manifest) that carries the W3C trace context of the publish span. */
export const TRACEPARENT_ATTRIBUTE = 'traceparent';
/** A close span links to at most this many staged messages (the SDK's default span link limit). */
export const MAX_CLOSE_LINKS = 128;

/** The identity of a batch message, and what it holds. */
export interface BatchIdentity {
  readonly type: string;
  readonly publisher: string;
  readonly firstSeq: number;
  readonly count: number;
  /** Window index (window start = window × window length). */
  readonly window: number;
}

/** The span attributes naming a batch: hourglass.batch.id is "<type>/<publisher>/<first seq>", one value to search by. */
export function batchSpanAttributes(b: BatchIdentity): Attributes {
  return {
    'hourglass.batch.id': `${b.type}/${b.publisher}/${b.firstSeq}`,
    'hourglass.type': b.type,
    'hourglass.publisher': b.publisher,
    'hourglass.first_seq': b.firstSeq,
    'hourglass.count': b.count,
    'hourglass.window': b.window,
  };
}

function tracer() {
  return trace.getTracer(TRACER);
}

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** A W3C traceparent of version 00 (what the propagator writes); anything else is not copied along. */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The staging manifest's field for a message: its `traceparent` attribute when it is a well-formed one, else nothing. */
export function stagedTraceparent(attrs: Readonly<Record<string, string>>): { traceparent?: string } {
  const value = attrs[TRACEPARENT_ATTRIBUTE];
  return value !== undefined && TRACEPARENT.test(value) ? { traceparent: value } : {};
}

/** The trace context carried by a message's or manifest's `traceparent`, or undefined. */
function remoteContext(traceparent: string | undefined): Context | undefined {
  if (traceparent === undefined) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, { [TRACEPARENT_ATTRIBUTE]: traceparent });
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? ctx : undefined;
}

/**
 * The SDK's publish of one batch message: a producer span around `send`, which gets `attributes` plus the span's
 * `traceparent` (when tracing is on). Resolves or rejects as `send` does.
 */
export async function tracePublish<T>(batch: BatchIdentity, topic: string, attributes: Readonly<Record<string, string>>, send: (attributes: Record<string, string>) => Promise<T>): Promise<T> {
  const span = tracer().startSpan('hourglass.publish', {
    kind: SpanKind.PRODUCER,
    attributes: { ...batchSpanAttributes(batch), 'messaging.system': 'gcp_pubsub', 'messaging.operation.type': 'send', 'messaging.operation.name': 'publish', 'messaging.destination.name': topic },
  });
  const carrier: Record<string, string> = { ...attributes };
  if (span.isRecording()) propagation.inject(trace.setSpan(context.active(), span), carrier);
  try {
    return await context.with(trace.setSpan(context.active(), span), () => send(carrier));
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** One delivery of a batch message, as the worker sees it. */
export interface DeliveredMessage {
  readonly id: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly subscription: string;
}

const staging = new WeakMap<DeliveredMessage, Span>();

/** The identity in a message's attributes (as sent: the worker may not have validated them yet). */
function identityOf(attrs: Readonly<Record<string, string>>): Attributes {
  const out: Attributes = {};
  const int = (key: string): number | undefined => (attrs[key] !== undefined && /^\d{1,15}$/.test(attrs[key]) ? Number(attrs[key]) : undefined);
  const [type, publisher, firstSeq, count, window] = [attrs.type, attrs.publisher, int('first_seq'), int('count'), int('window')];
  if (type !== undefined && publisher !== undefined && firstSeq !== undefined) out['hourglass.batch.id'] = `${type}/${publisher}/${firstSeq}`;
  if (type !== undefined) out['hourglass.type'] = type;
  if (publisher !== undefined) out['hourglass.publisher'] = publisher;
  if (firstSeq !== undefined) out['hourglass.first_seq'] = firstSeq;
  if (count !== undefined) out['hourglass.count'] = count;
  if (window !== undefined) out['hourglass.window'] = window;
  return out;
}

/**
 * The worker received a message: starts its stage span, a consumer span whose parent is the publish span named by
 * the message's `traceparent` (a new trace without one). It ends at stageSettled.
 */
export function stageStarted(m: DeliveredMessage): void {
  const parent = remoteContext(m.attributes[TRACEPARENT_ATTRIBUTE]) ?? ROOT_CONTEXT;
  const span = tracer().startSpan(
    'hourglass.stage',
    {
      kind: SpanKind.CONSUMER,
      attributes: { ...identityOf(m.attributes), 'messaging.system': 'gcp_pubsub', 'messaging.operation.type': 'process', 'messaging.message.id': m.id, 'messaging.destination.subscription.name': m.subscription },
    },
    parent,
  );
  if (span.isRecording()) staging.set(m, span);
}

/** The worker settled a message: acked (staged durably, or dead-lettered) or handed back (nacked). Ends its stage span. */
export function stageSettled(m: DeliveredMessage, acked: boolean): void {
  const span = staging.get(m);
  if (span === undefined) return;
  staging.delete(m);
  span.setAttribute('hourglass.outcome', acked ? 'acked' : 'nacked');
  if (!acked) span.setStatus({ code: SpanStatusCode.ERROR, message: 'nacked: Pub/Sub delivers it again' });
  span.end();
}

/** A staged message as a staging manifest lists it. */
export interface StagedMessageRef {
  readonly publisher: string;
  readonly firstSeq: number;
  readonly count: number;
  readonly traceparent?: string;
}

/** The window a checker closes. */
export interface ClosingWindow {
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  /** The window's staging manifests (their messages), in order. */
  readonly manifests: ReadonlyArray<{ readonly messages: readonly StagedMessageRef[] }>;
}

/** The context of each close's span, by what the close returned (its manifest), for what is done with it afterwards. */
const closeContexts = new WeakMap<object, Context>();

/** Runs `fn` in the context of the span that closed `closed` (when traced), so its log lines carry that trace. */
export function withinCloseSpan<T>(closed: object, fn: () => T): T {
  const ctx = closeContexts.get(closed);
  return ctx === undefined ? fn() : context.with(ctx, fn);
}

/**
 * The checker's close of one window: a span around `close`, in the trace of the window's first staged message that
 * carries a traceparent, linked to each such message (up to MAX_CLOSE_LINKS). Attributes: type, window, and, from the
 * closed manifest, status and events.
 */
export async function traceClose<T extends { readonly status: string; readonly events: number }>(w: ClosingWindow, close: () => Promise<T>): Promise<T> {
  let parent: Context | undefined;
  const links: Link[] = [];
  scan: for (const manifest of w.manifests) {
    for (const m of manifest.messages) {
      if (links.length >= MAX_CLOSE_LINKS) break scan;
      const ctx = remoteContext(m.traceparent);
      if (ctx === undefined) continue;
      parent ??= ctx;
      links.push({ context: trace.getSpanContext(ctx)!, attributes: batchSpanAttributes({ type: w.type, publisher: m.publisher, firstSeq: m.firstSeq, count: m.count, window: w.window }) });
    }
  }
  const span = tracer().startSpan(
    'hourglass.close',
    {
      kind: SpanKind.INTERNAL,
      links,
      attributes: {
        'hourglass.type': w.type,
        'hourglass.window': w.window,
        'hourglass.window.start': new Date(w.window * w.windowS * 1000).toISOString(),
        'hourglass.window.length_s': w.windowS,
        'hourglass.staging_files': w.manifests.length,
      },
    },
    parent ?? ROOT_CONTEXT,
  );
  try {
    const spanContext = trace.setSpan(context.active(), span);
    const closed = await context.with(spanContext, close);
    span.setAttributes({ 'hourglass.status': closed.status, 'hourglass.events': closed.events });
    closeContexts.set(closed, spanContext);
    return closed;
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}
