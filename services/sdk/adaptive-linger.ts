// The default linger: how long a batch of one event type waits for more events, chosen per type from how fast events keep arriving while its batches wait.
//
// Why wait at all: Pub/Sub bills every publish request at least 1000 bytes, and every message carries
// ~290 bytes of attributes (docs/scale-model.md), while an event is ~44 bytes deflated. A message of
// 3 events is billed ~8× its events' bytes; a full one (1000 events) ~1.01×. The worker also pays a
// fixed cost per message (~45 µs, as much as 40–90 events). So a batch should fill; but each event waits for
// it, so the wait is bounded by a latency budget, maxLingerMs (default 250 ms: publish() resolves
// within the budget plus Pub/Sub's round trip; close delay does not grow, as the window-end heartbeat
// seals the ended window's batches at once).
//
// The rule, per (publisher, event type):
//   λ      how fast events joined this type's batches while they waited: the events appended after
//          the tick in which a batch opened, over the time from that tick to its seal. Summed over
//          batches with exponential forgetting (time constant FORGET_MS), λ = events / time: a Poisson
//          rate estimate that weighs long waits more than short ones. Events appended in the tick
//          that opened the batch (one publishMany, one HTTP request, the continuations of one ack)
//          are not counted: they came whether or not the batch waited. A caller that awaits each
//          publish in turn only ever sends such bursts, so it measures λ = 0 and is not slowed down.
//          The time between batches does not count: in a closed loop it is the round trip to Pub/Sub,
//          and the event that ends it was caused by the acknowledgement, not by waiting.
//   gain   λ × maxLingerMs: the events that waiting the whole budget would add to a batch.
//   linger 0 (the batch goes out on the next timer tick, with whatever the current tick appended)
//          when gain < MIN_GAIN_EVENTS (1): the message would not even double. Otherwise
//          min(maxLingerMs, FILL_MARGIN × fullEvents / λ): twice the expected time to fill a full
//          message (maxBatchEvents, or maxBatchBytes at the type's mean event size), so a fast type
//          sends full messages (it fills them before its linger ends; the linger only bounds how long
//          its last events wait when the stream stops), and a slower one waits the budget. The
//          target is a full message rather than some smaller one: below it every message still pays
//          its attributes and the worker's fixed cost, and the budget, not the target, bounds the wait.
//   probe  a type whose linger is 0 learns little about arrivals that are not Poisson (a steady
//          50/s from a timer never lands in a ~1 ms wait). So its first batch waits the budget and
//          measures, and so does a later one, at most once every PROBE_EVERY_MS, when batches open
//          often enough since the last wait that, were their openings arrivals, waiting would gain.
//          A type seeing one event every few seconds is never probed again; a caller awaiting each
//          publish in turn is, once every 10 s (one event waits the budget).
//
// A publisher with an explicit lingerMs keeps that fixed linger and none of this runs.

/** A budget well under a second: the modelled Pub/Sub bill falls ~3× from a 20 ms linger (docs/scale-model.md), latency stays human-scale. */
export const DEFAULT_MAX_LINGER_MS = 250;
/**
 * Time constant of the forgetting (ms). Shorter forgets a busy past sooner (a type that turns sparse stops
 * waiting after ~20 s at 2 s, ~1 min at 5 s); longer steadies the estimate of a type near the threshold
 * (at 1 s, one at 8/s often measures below 4/s and stops waiting).
 */
export const FORGET_MS = 2000;
/** Wait this many times the expected fill time, so a Poisson stream fills its message before the linger ends. */
export const FILL_MARGIN = 2;
/** Wait only when the budget is expected to bring at least this many more events. */
export const MIN_GAIN_EVENTS = 1;
/** How often a type that does not wait waits the budget once, to measure (ms). */
export const PROBE_EVERY_MS = 10_000;
/** Shortest duration an observation counts for (ms): a timer tick. */
const MIN_OBSERVED_MS = 1;

export interface LingerLimits {
  /** The latency budget (ms). */
  readonly maxLingerMs: number;
  readonly maxBatchEvents: number;
  readonly maxBatchBytes: number;
}

/** What one sealed batch says about arrivals while it waited. */
export interface WaitObservation {
  /** Events appended after the tick in which the batch opened. */
  readonly events: number;
  /** Time from that tick to the seal (ms). */
  readonly ms: number;
}

/** The linger for a type arriving at `ratePerMs` events/ms (0 when waiting gains nothing). Never negative, never above the budget. */
export function lingerFor(ratePerMs: number, fullEvents: number, maxLingerMs: number): number {
  // Written so that NaN (no estimate) and negatives fall to 0.
  if (!(ratePerMs * maxLingerMs >= MIN_GAIN_EVENTS)) return 0;
  return Math.max(0, Math.min(maxLingerMs, (FILL_MARGIN * fullEvents) / ratePerMs));
}

/**
 * What a sealed batch observed: `count` events in all, `markCount` of them appended by the time the tick that
 * opened it ended (`markAtMs`; undefined when it was sealed before that), sealed at `sealedAtMs`.
 * Undefined when it says nothing about arrivals over time: sealed within the tick that opened it.
 */
export function waitObservation(count: number, markCount: number, markAtMs: number | undefined, sealedAtMs: number): WaitObservation | undefined {
  if (markAtMs === undefined) return undefined;
  return { events: Math.max(0, count - markCount), ms: Math.max(MIN_OBSERVED_MS, sealedAtMs - markAtMs) };
}

interface TypeState {
  /** Events observed joining batches after their opening tick, decayed. */
  events: number;
  /** Time observed (ms), decayed alike. */
  ms: number;
  /** Event bytes and events of sealed batches, decayed alike (for the type's mean event size). */
  bytes: number;
  sealedEvents: number;
  /** When the sums were last decayed (ms). */
  updatedAtMs: number;
  /** When a batch of the type last waited more than 0 (ms). */
  waitedAtMs: number;
  /** Batches opened with a linger of 0 since then. */
  openings: number;
}

/** The per-type state behind the default linger (see the top of this file). Time is passed in (ms, monotonic). */
export class AdaptiveLinger {
  readonly #limits: LingerLimits;
  readonly #types = new Map<string, TypeState>();

  constructor(limits: LingerLimits) {
    this.#limits = limits;
  }

  /** The linger for a batch of `type` opening at `nowMs`. */
  lingerMs(type: string, nowMs: number): number {
    let s = this.#types.get(type);
    if (!s) this.#types.set(type, (s = newState(nowMs, -Infinity)));
    let linger = lingerFor(s.ms > 0 ? s.events / s.ms : 0, this.#fullEvents(s), this.#limits.maxLingerMs);
    if (linger === 0) {
      s.openings++;
      const sinceMs = nowMs - s.waitedAtMs;
      const probe = sinceMs === Infinity || (sinceMs >= PROBE_EVERY_MS && s.openings * this.#limits.maxLingerMs >= MIN_GAIN_EVENTS * sinceMs);
      if (!probe) return 0;
      linger = this.#limits.maxLingerMs;
    }
    s.waitedAtMs = nowMs;
    s.openings = 0;
    return linger;
  }

  /** Records a sealed batch of `type`: what it observed (if anything), and its size. */
  sealed(type: string, observation: WaitObservation | undefined, events: number, bytes: number, nowMs: number): void {
    let s = this.#types.get(type);
    if (!s) this.#types.set(type, (s = newState(nowMs, -Infinity)));
    this.#forget(s, nowMs);
    s.events += observation?.events ?? 0;
    s.ms += observation?.ms ?? 0;
    s.bytes += bytes;
    s.sealedEvents += events;
  }

  /** Decays the sums to `nowMs`. */
  #forget(s: TypeState, nowMs: number): void {
    const keep = Math.exp(-Math.max(0, nowMs - s.updatedAtMs) / FORGET_MS);
    s.updatedAtMs = Math.max(s.updatedAtMs, nowMs);
    s.events *= keep;
    s.ms *= keep;
    s.bytes *= keep;
    s.sealedEvents *= keep;
  }

  /** Events in a full message of the type: maxBatchEvents, or fewer when maxBatchBytes comes first. */
  #fullEvents(s: TypeState): number {
    const meanBytes = s.sealedEvents > 0 ? s.bytes / s.sealedEvents : 0;
    return meanBytes > 0 ? Math.max(1, Math.min(this.#limits.maxBatchEvents, Math.floor(this.#limits.maxBatchBytes / meanBytes))) : this.#limits.maxBatchEvents;
  }
}

function newState(nowMs: number, waitedAtMs: number): TypeState {
  return { events: 0, ms: 0, bytes: 0, sealedEvents: 0, updatedAtMs: nowMs, waitedAtMs, openings: 0 };
}
