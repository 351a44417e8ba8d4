// The checker's OpenTelemetry instruments (meter "hourglass-checker"): windows by state, events closed, late, lost, abandoned, duplicates, close delay, round duration, age of unclosed staging.
import { metrics, type Counter, type Histogram, type ObservableCallback, type ObservableGauge } from '@opentelemetry/api';
import type { ClosedManifest } from './closed-manifest.ts';
import type { WindowState } from './checker.ts';

export class CheckerMetrics {
  readonly #closedEvents: Counter;
  readonly #closedWindows: Counter;
  readonly #duplicates: Counter;
  readonly #late: Counter;
  readonly #lost: Counter;
  readonly #abandoned: Counter;
  readonly #segments: Counter;
  readonly #closeDelay: Histogram;
  readonly #round: Histogram;
  readonly #gauges: Array<[ObservableGauge, ObservableCallback]> = [];

  constructor(view: { windowStates(): WindowState[]; unclosedStaging(): Array<{ type: string; ageS: number }>; publishersAlive(): number; nowMs(): number }) {
    const meter = metrics.getMeter('hourglass-checker');
    // Units: UCUM, a count's thing in braces ({event}), as the OpenTelemetry semantic conventions write them.
    const counter = (name: string, description: string, unit: string) => meter.createCounter(`hourglass.checker.${name}`, { description, unit });
    this.#closedEvents = counter('events.closed', 'Events written into closed windows, by type and window status', '{event}');
    this.#closedWindows = counter('windows.closed', 'Windows closed by this checker, by status (complete, incomplete)', '{window}');
    this.#duplicates = counter('events.duplicates', 'Duplicate events dropped at close, by kind (redelivered, client_retry)', '{event}');
    this.#late = counter('events.late', 'Events moved to the late area', '{event}');
    this.#lost = counter('events.lost', 'Acknowledged events missing from a window closed as incomplete: data loss', '{event}');
    this.#abandoned = counter('events.abandoned', 'Events never acknowledged to their publisher and missing at close', '{event}');
    this.#segments = counter('segments', 'Segments compacted while windows were open', '{segment}');
    this.#closeDelay = meter.createHistogram('hourglass.checker.close.delay', {
      description: 'From a window end to its manifest',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300, 900, 3600] },
    });
    this.#round = meter.createHistogram('hourglass.checker.round.duration', {
      description: 'One checker round over every type: listing staging, compacting segments, closing',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30] },
    });
    const gauge = (name: string, description: string, unit: string, observe: ObservableCallback) => {
      const g = meter.createObservableGauge(`hourglass.checker.${name}`, { description, unit });
      g.addCallback(observe);
      this.#gauges.push([g, observe]);
    };
    gauge('windows', 'Windows known to this checker, by type and state (open, closing, closed, incomplete)', '1', (r) => {
      const counts = new Map<string, number>();
      for (const s of view.windowStates()) counts.set(`${s.type}\u0000${s.state}`, (counts.get(`${s.type}\u0000${s.state}`) ?? 0) + 1);
      for (const [key, n] of counts) {
        const [type, state] = key.split('\u0000');
        r.observe(n, { type: type!, state: state! });
      }
    });
    gauge('oldest_open_window.age', 'Age of the oldest window not yet closed, by type (from its start)', 's', (r) => {
      const oldest = new Map<string, number>();
      for (const s of view.windowStates()) {
        if (s.state !== 'open' && s.state !== 'closing') continue;
        const start = Date.parse(s.windowStart);
        oldest.set(s.type, Math.min(oldest.get(s.type) ?? Infinity, start));
      }
      for (const [type, start] of oldest) r.observe((view.nowMs() - start) / 1000, { type });
    });
    // A type whose staging is gone reads 0 from then on: an exporter would otherwise keep showing its last age.
    const stagedTypes = new Set<string>();
    gauge('staging.unclosed_age', 'How long past its window end the oldest staged file not yet closed (or moved to late/) has waited, by type (0 while its window is open, or nothing is staged); alert beyond the type\'s max wait', 's', (r) => {
      const ages = new Map(view.unclosedStaging().map((s) => [s.type, s.ageS]));
      for (const type of ages.keys()) stagedTypes.add(type);
      for (const type of stagedTypes) r.observe(ages.get(type) ?? 0, { type });
    });
    gauge('publishers.alive', 'Publishers heard from recently', '1', (r) => r.observe(view.publishersAlive()));
  }

  closed(m: ClosedManifest): void {
    const type = m.type;
    this.#closedWindows.add(1, { type, status: m.status });
    this.#closedEvents.add(m.events, { type, status: m.status });
    this.#duplicates.add(m.duplicatesDropped.redelivered, { type, kind: 'redelivered' });
    this.#duplicates.add(m.duplicatesDropped.clientRetries, { type, kind: 'client_retry' });
    this.#lost.add(m.lostEvents, { type });
    this.#abandoned.add(m.abandonedEvents, { type });
    this.#closeDelay.record(m.closeDelayMs / 1000, { type });
  }

  round(seconds: number): void {
    this.#round.record(seconds);
  }

  late(type: string, events: number, duplicates: number): void {
    this.#late.add(events, { type });
    this.#duplicates.add(duplicates, { type, kind: 'late_duplicate' });
  }

  segment(type: string): void {
    this.#segments.add(1, { type });
  }

  close(): void {
    for (const [g, cb] of this.#gauges) g.removeCallback(cb);
  }
}
