// The gateway's counters and gauges, rendered in the Prometheus text format for GET /metrics.
//
// Every answer is counted by status and error code, so every failure shows on a dashboard and not
// only in a log line. Labels are bounded: the type label only ever holds registry types.
import type { PublisherStats } from '../sdk/index.ts';

/** Upper bounds (s) of the request-duration histogram buckets. */
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export class GatewayMetrics {
  readonly #answers = new Map<string, number>();
  readonly #accepted = new Map<string, number>();
  readonly #rejectedEvents = new Map<string, number>();
  readonly #durationCounts = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
  #durationSumS = 0;
  #durationCount = 0;

  /** One answered POST /v1/events request: its status, error code ("" on success) and how long it took. */
  recordAnswer(status: number, code: string, durationS: number): void {
    const key = `${status}\u0000${code}`;
    this.#answers.set(key, (this.#answers.get(key) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS_S.length && durationS > DURATION_BUCKETS_S[i]!) i++;
    this.#durationCounts[i]!++;
    this.#durationSumS += durationS;
    this.#durationCount++;
  }

  recordAccepted(type: string, events: number): void {
    this.#accepted.set(type, (this.#accepted.get(type) ?? 0) + events);
  }

  /** Events in requests refused with `code` (counted when the body was read). */
  recordRejected(code: string, events: number): void {
    this.#rejectedEvents.set(code, (this.#rejectedEvents.get(code) ?? 0) + events);
  }

  acceptedEvents(): number {
    let sum = 0;
    for (const n of this.#accepted.values()) sum += n;
    return sum;
  }

  render(state: { inFlightRequests: number; draining: boolean; publisherHealthy: boolean; publisher: PublisherStats }): string {
    const out: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family('hourglass_gateway_requests_total', 'counter', 'Answered POST /v1/events requests, by HTTP status and error code.');
    for (const [key, n] of this.#answers) {
      const [status, code] = key.split('\u0000');
      out.push(`hourglass_gateway_requests_total{status="${status}",code="${code}"} ${n}`);
    }
    family('hourglass_gateway_events_accepted_total', 'counter', 'Events acknowledged by Pub/Sub and answered 200, by type.');
    for (const [type, n] of this.#accepted) out.push(`hourglass_gateway_events_accepted_total{type="${type}"} ${n}`);
    family('hourglass_gateway_events_rejected_total', 'counter', 'Events in requests that were refused after their body was read, by error code.');
    for (const [code, n] of this.#rejectedEvents) out.push(`hourglass_gateway_events_rejected_total{code="${code}"} ${n}`);
    family('hourglass_gateway_request_duration_seconds', 'histogram', 'Time from request arrival to answer, POST /v1/events.');
    let cumulative = 0;
    DURATION_BUCKETS_S.forEach((le, i) => {
      cumulative += this.#durationCounts[i]!;
      out.push(`hourglass_gateway_request_duration_seconds_bucket{le="${le}"} ${cumulative}`);
    });
    out.push(`hourglass_gateway_request_duration_seconds_bucket{le="+Inf"} ${this.#durationCount}`);
    out.push(`hourglass_gateway_request_duration_seconds_sum ${this.#durationSumS}`);
    out.push(`hourglass_gateway_request_duration_seconds_count ${this.#durationCount}`);
    family('hourglass_gateway_in_flight_requests', 'gauge', 'POST /v1/events requests being handled now.');
    out.push(`hourglass_gateway_in_flight_requests ${state.inFlightRequests}`);
    family('hourglass_gateway_draining', 'gauge', '1 while the gateway is shutting down.');
    out.push(`hourglass_gateway_draining ${state.draining ? 1 : 0}`);
    family('hourglass_gateway_publisher_healthy', 'gauge', '0 while Pub/Sub has been failing for a while.');
    out.push(`hourglass_gateway_publisher_healthy ${state.publisherHealthy ? 1 : 0}`);
    for (const [key, value] of Object.entries(state.publisher)) {
      if (typeof value !== 'number') continue;
      const name = `hourglass_publisher_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
      family(name, 'gauge', `Publisher statistic ${key}.`);
      out.push(`${name} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }
}
