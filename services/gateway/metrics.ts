// The gateway's OpenTelemetry instruments (meter "hourglass-gateway"): answers by status and code, events accepted and rejected, drain state.
//
// Every answer is counted by status and error code, so every failure shows on a dashboard and not
// only in a log line. Labels are bounded: status and code come from the error catalogue, and the
// type label only ever holds registry types (anything else is "_unknown"). The publisher's own
// figures (events accepted and acknowledged per type, publish latency) come from the SDK's
// instruments under meter "hourglass-sdk"; only what those lack is observed here. How long requests
// take is the HTTP instrumentation's http.server.request.duration (services/telemetry/telemetry.ts;
// by method, status and http.route, which app.ts names); the error code is only here.
import { metrics, type BatchObservableCallback, type Counter, type Meter, type Observable } from '@opentelemetry/api';
import type { PublisherStats } from '../sdk/index.ts';

/** The label of a type the registry does not know (so a caller cannot grow the label set). */
export const UNKNOWN_TYPE = '_unknown';

/** What the gauges read at each collection. */
export interface GatewayMetricsView {
  inFlightRequests(): number;
  draining(): boolean;
  publisherHealthy(): boolean;
  publisherStats(): PublisherStats;
  /** Whether `type` may be a label value (a registry type). */
  isKnownType(type: string): boolean;
}

export class GatewayMetrics {
  readonly #view: GatewayMetricsView;
  readonly #meter: Meter;
  readonly #requests: Counter;
  readonly #accepted: Counter;
  readonly #rejected: Counter;
  readonly #observables: Observable[];
  readonly #observe: BatchObservableCallback;

  constructor(view: GatewayMetricsView) {
    this.#view = view;
    const meter = metrics.getMeter('hourglass-gateway');
    this.#meter = meter;
    this.#requests = meter.createCounter('hourglass.gateway.requests', {
      description: 'Answered POST /v1/events requests, by HTTP status and error code ("" on success; status 499: the client hung up)',
      unit: '{request}',
    });
    this.#accepted = meter.createCounter('hourglass.gateway.events.accepted', { description: 'Events acknowledged by Pub/Sub and answered 200, by type', unit: '{event}' });
    this.#rejected = meter.createCounter('hourglass.gateway.events.rejected', { description: 'Events in requests refused after their body was read, by type and error code', unit: '{event}' });

    const inFlight = meter.createObservableGauge('hourglass.gateway.in_flight_requests', { description: 'POST /v1/events requests being handled now' });
    const draining = meter.createObservableGauge('hourglass.gateway.draining', { description: '1 while the gateway is shutting down' });
    const healthy = meter.createObservableGauge('hourglass.gateway.publisher.healthy', { description: '0 while Pub/Sub has been failing for a while (the gateway then answers 503)' });
    const bufferedEvents = meter.createObservableGauge('hourglass.gateway.publisher.buffered_events', { description: 'Events accepted by the publisher and not yet acknowledged' });
    const inFlightMessages = meter.createObservableGauge('hourglass.gateway.publisher.in_flight_messages', { description: 'Pub/Sub messages sent and not yet acknowledged' });
    const failedAttempts = meter.createObservableCounter('hourglass.gateway.publisher.failed_attempts', { description: 'Pub/Sub publish attempts that failed (and were retried or given up on)', unit: '{attempt}' });
    const heartbeats = meter.createObservableCounter('hourglass.gateway.publisher.heartbeats', { description: 'Heartbeats sent on the control topic', unit: '{heartbeat}' });
    this.#observables = [inFlight, draining, healthy, bufferedEvents, inFlightMessages, failedAttempts, heartbeats];
    this.#observe = (r) => {
      const stats = view.publisherStats();
      r.observe(inFlight, view.inFlightRequests());
      r.observe(draining, view.draining() ? 1 : 0);
      r.observe(healthy, view.publisherHealthy() ? 1 : 0);
      r.observe(bufferedEvents, stats.bufferedEvents);
      r.observe(inFlightMessages, stats.inFlightMessages);
      r.observe(failedAttempts, stats.failedAttempts);
      r.observe(heartbeats, stats.heartbeatsSent);
    };
    meter.addBatchObservableCallback(this.#observe, this.#observables);
  }

  /** One answered POST /v1/events request: its status and error code ("" on success). */
  recordAnswer(status: number, code: string): void {
    this.#requests.add(1, { status: String(status), code });
  }

  recordAccepted(type: string, events: number): void {
    this.#accepted.add(events, { type: this.#typeLabel(type) });
  }

  /** Events in a request refused with `code` (counted when the body was read). */
  recordRejected(type: string | undefined, code: string, events: number): void {
    this.#rejected.add(events, { type: this.#typeLabel(type), code });
  }

  /** Stops observing the gauges (so a closed gateway is not kept alive, nor reported, by the meter); idempotent. */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
  }

  #typeLabel(type: string | undefined): string {
    return type !== undefined && this.#view.isKnownType(type) ? type : UNKNOWN_TYPE;
  }
}
