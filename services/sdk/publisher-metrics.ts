// The publisher's OpenTelemetry instruments (meter "hourglass-sdk"): events accepted, acknowledged and failed per type, publish latency, buffer.
import { metrics, type Counter, type Histogram, type ObservableCallback, type ObservableGauge } from '@opentelemetry/api';

export class PublisherMetrics {
  readonly #accepted: Counter;
  readonly #acknowledged: Counter;
  readonly #failed: Counter;
  readonly #latency: Histogram;
  readonly #gauge: ObservableGauge;
  readonly #observe: ObservableCallback;

  constructor(publisherId: string, buffered: () => { bytes: number; events: number }) {
    const meter = metrics.getMeter('hourglass-sdk');
    this.#accepted = meter.createCounter('hourglass.sdk.events.accepted', { description: 'Events accepted by publish() (validated, stamped, sequenced)', unit: '{event}' });
    this.#acknowledged = meter.createCounter('hourglass.sdk.events.acknowledged', { description: 'Events whose message Pub/Sub acknowledged', unit: '{event}' });
    this.#failed = meter.createCounter('hourglass.sdk.events.failed', { description: 'Events whose publish failed for good (their promises rejected)', unit: '{event}' });
    this.#latency = meter.createHistogram('hourglass.sdk.publish.latency', {
      description: 'From a batch opening to Pub/Sub acknowledging it: the longest any of its events waited',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] },
    });
    this.#gauge = meter.createObservableGauge('hourglass.sdk.buffered.bytes', { description: 'Bytes accepted and not yet acknowledged', unit: 'By' });
    this.#observe = (r) => r.observe(buffered().bytes, { publisher: publisherId });
    this.#gauge.addCallback(this.#observe);
  }

  /** Stops observing this publisher (so a closed publisher is not kept alive by the meter). */
  close(): void {
    this.#gauge.removeCallback(this.#observe);
  }

  accepted(type: string, n: number): void {
    this.#accepted.add(n, { type });
  }

  settled(type: string, n: number, ok: boolean, latencyMs: number): void {
    (ok ? this.#acknowledged : this.#failed).add(n, { type });
    if (ok) this.#latency.record(latencyMs / 1000, { type });
  }
}
