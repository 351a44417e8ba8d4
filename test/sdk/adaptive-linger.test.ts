// The SDK's default linger (services/sdk/adaptive-linger.ts): bounds as properties, and its effect on simulated traffic (virtual time, no timers).
//
// The simulation is the Publisher's batching with time made explicit: a batch opens at an event and
// asks AdaptiveLinger for its linger; the events of the opening tick (same instant) are the mark; it
// is sealed when full, or one timer tick (≥ 1 ms, as Node's timers) after its linger; its
// observation (waitObservation) goes back to AdaptiveLinger. Arrivals come from a seeded generator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AdaptiveLinger, DEFAULT_MAX_LINGER_MS, lingerFor, PROBE_EVERY_MS, waitObservation, type LingerLimits } from '../../services/sdk/adaptive-linger.ts';
import { resolvePublisherOptions } from '../../services/sdk/publisher-options.ts';
import { hasCode } from '../../services/errors/catalogue.ts';
import type { PubSub } from '@google-cloud/pubsub';
import type { Registry } from '../../services/registry/registry.ts';
import { PROPERTY_SEED } from '../helpers/avro-arbitraries.ts';
import { seededRandom } from '../../services/storage/seeded-random.ts';

const LIMITS: LingerLimits = { maxLingerMs: DEFAULT_MAX_LINGER_MS, maxBatchEvents: 1000, maxBatchBytes: 1024 * 1024 };
/** Node runs a timer of 0–1 ms about 1 ms later. */
const TICK_MS = 1;
const EVENT_BYTES = 150;
/** Float slack on sums of times. */
const EPS_MS = 1e-6;

type Policy = { readonly kind: 'adaptive'; readonly limits: LingerLimits } | { readonly kind: 'fixed'; readonly lingerMs: number; readonly limits: LingerLimits };

interface SimResult {
  events: number;
  messages: number;
  /** Per message: events, how long its first event waited (ms), when it opened (ms). */
  readonly sizes: number[];
  readonly waits: number[];
  readonly opens: number[];
  /** The lingers asked of the policy, in order. */
  readonly lingers: number[];
}


/** Poisson arrivals at `perMs` events/ms over [0, durationMs). */
function poisson(perMs: number, durationMs: number, rand: () => number): number[] {
  const out: number[] = [];
  for (let t = -Math.log(1 - rand()) / perMs; t < durationMs; t += -Math.log(1 - rand()) / perMs) out.push(t);
  return out;
}

/** One event every `everyMs`, from `fromMs`. */
function periodic(everyMs: number, durationMs: number, fromMs = 0): number[] {
  const out: number[] = [];
  for (let t = fromMs; t < durationMs; t += everyMs) out.push(t);
  return out;
}

/** Batches one type's arrivals (sorted ms) the way Publisher does, under `policy`. */
function simulate(arrivals: readonly number[], policy: Policy): SimResult {
  const { limits } = policy;
  const adaptive = policy.kind === 'adaptive' ? new AdaptiveLinger(limits) : undefined;
  const fullEvents = Math.min(limits.maxBatchEvents, Math.floor(limits.maxBatchBytes / EVENT_BYTES));
  const result: SimResult = { events: arrivals.length, messages: 0, sizes: [], waits: [], opens: [], lingers: [] };
  let open: { openMs: number; sealAtMs: number; count: number; markCount: number } | undefined;
  const seal = (atMs: number) => {
    const b = open!;
    open = undefined;
    // The opening tick ended at openMs unless the batch was sealed within it (full at once).
    const marked = atMs > b.openMs;
    adaptive?.sealed('t', waitObservation(b.count, b.markCount, marked ? b.openMs : undefined, atMs), b.count, b.count * EVENT_BYTES, atMs);
    result.messages++;
    result.sizes.push(b.count);
    result.waits.push(atMs - b.openMs);
    result.opens.push(b.openMs);
  };
  for (const t of arrivals) {
    if (open && t >= open.sealAtMs) seal(open.sealAtMs);
    if (!open) {
      const linger = adaptive ? adaptive.lingerMs('t', t) : (policy as { lingerMs: number }).lingerMs;
      result.lingers.push(linger);
      open = { openMs: t, sealAtMs: t + Math.max(TICK_MS, linger), count: 0, markCount: 0 };
    }
    if (t === open.openMs) open.markCount++;
    open.count++;
    if (open.count >= fullEvents) seal(t);
  }
  if (open) seal(open.sealAtMs);
  return result;
}

/**
 * `callers` callers that each await their publish: all their events come in one tick, `rttMs` after their
 * message was sealed (Pub/Sub's answer resolves them together), and nothing arrives while it waits.
 */
function simulateClosedLoop(rttMs: number, durationMs: number, callers = 1): SimResult {
  const adaptive = new AdaptiveLinger(LIMITS);
  const result: SimResult = { events: 0, messages: 0, sizes: [], waits: [], opens: [], lingers: [] };
  for (let t = 0; t < durationMs; ) {
    const linger = adaptive.lingerMs('t', t);
    const sealAt = t + Math.max(TICK_MS, linger);
    adaptive.sealed('t', waitObservation(callers, callers, t, sealAt), callers, callers * EVENT_BYTES, sealAt);
    result.lingers.push(linger);
    result.events += callers;
    result.messages++;
    result.sizes.push(callers);
    result.waits.push(sealAt - t);
    result.opens.push(t);
    t = sealAt + rttMs;
  }
  return result;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('adaptive linger: bounds', () => {
  it('lingerFor is never negative and never above the budget, whatever the rate (NaN, 0, negative, infinite)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.constantFrom(Number.NaN, 0, -0, -1, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE)),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: Number.MIN_VALUE, max: 1e7, noNaN: true }),
        (rate, fullEvents, maxLingerMs) => {
          const linger = lingerFor(rate, fullEvents, maxLingerMs);
          assert.ok(Number.isFinite(linger) && linger >= 0 && linger <= maxLingerMs, `lingerFor(${rate}, ${fullEvents}, ${maxLingerMs}) = ${linger}`);
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 2000 },
    );
  });

  it('a faster type never waits longer (above the gain threshold), and waiting starts where the budget brings one more event', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e4, noNaN: true }), fc.double({ min: 1e-6, max: 1e4, noNaN: true }), (a, b) => {
        const [slow, fast] = a < b ? [a, b] : [b, a];
        const ls = lingerFor(slow, 1000, 250);
        const lf = lingerFor(fast, 1000, 250);
        if (ls > 0) assert.ok(lf <= ls, `rate ${fast} waits ${lf} ms, more than rate ${slow} (${ls} ms)`);
        assert.equal(lingerFor(slow, 1000, 250) > 0, slow * 250 >= 1);
      }),
      { seed: PROPERTY_SEED, numRuns: 2000 },
    );
  });

  it('AdaptiveLinger.lingerMs stays within [0, maxLingerMs] after any sequence of batches, observations and clock steps', () => {
    const step = fc.record({
      advanceMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e-3, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true })),
      type: fc.constantFrom('a', 'b'),
      events: fc.oneof(fc.nat(10), fc.nat(1_000_000)),
      ms: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true })),
      observed: fc.boolean(),
      bytes: fc.nat(10_000_000),
    });
    fc.assert(
      fc.property(
        fc.record({ maxLingerMs: fc.double({ min: 1e-3, max: 1e5, noNaN: true }), maxBatchEvents: fc.integer({ min: 1, max: 100_000 }), maxBatchBytes: fc.integer({ min: 1, max: 9 * 2 ** 20 }) }),
        fc.array(step, { maxLength: 60 }),
        (limits, steps) => {
          const linger = new AdaptiveLinger(limits);
          let now = 0;
          for (const s of steps) {
            now += s.advanceMs;
            const l = linger.lingerMs(s.type, now);
            assert.ok(Number.isFinite(l) && l >= 0 && l <= limits.maxLingerMs, `linger ${l} outside [0, ${limits.maxLingerMs}]`);
            linger.sealed(s.type, s.observed ? { events: s.events, ms: s.ms } : undefined, s.events, s.bytes, now);
          }
        },
      ),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
  });

  it('no event waits longer than the budget (plus a timer tick), whatever the arrival pattern', () => {
    const gaps = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5, noNaN: true }), fc.double({ min: 0, max: 20_000, noNaN: true })), { minLength: 1, maxLength: 400 });
    fc.assert(
      fc.property(gaps, fc.integer({ min: 1, max: 2000 }), (steps, maxLingerMs) => {
        let t = 0;
        const arrivals = steps.map((g) => (t += g));
        const r = simulate(arrivals, { kind: 'adaptive', limits: { ...LIMITS, maxLingerMs } });
        assert.equal(r.sizes.reduce((a, b) => a + b, 0), arrivals.length, 'every event is sent once');
        for (const w of r.waits) assert.ok(w <= Math.max(TICK_MS, maxLingerMs) + EPS_MS, `an event waited ${w} ms; the budget is ${maxLingerMs} ms`);
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('options: the adaptive linger is the default, lingerMs keeps a fixed one, and bad values are HG_CONFIG_INVALID', () => {
    const base = { registry: {} as Registry, pubsub: {} as PubSub };
    assert.equal(resolvePublisherOptions(base).lingerMs, undefined);
    assert.equal(resolvePublisherOptions(base).maxLingerMs, DEFAULT_MAX_LINGER_MS);
    assert.equal(resolvePublisherOptions({ ...base, lingerMs: 0 }).lingerMs, 0);
    assert.equal(resolvePublisherOptions({ ...base, lingerMs: 20 }).lingerMs, 20);
    assert.equal(resolvePublisherOptions({ ...base, maxLingerMs: 500 }).maxLingerMs, 500);
    for (const bad of [{ lingerMs: -1 }, { lingerMs: Number.NaN }, { lingerMs: Infinity }, { maxLingerMs: 0 }, { maxLingerMs: -5 }, { maxLingerMs: Infinity }, { lingerMs: 20, maxLingerMs: 500 }]) {
      assert.throws(() => resolvePublisherOptions({ ...base, ...bad }), (e) => hasCode(e, 'HG_CONFIG_INVALID') && /linger/i.test(e.message), JSON.stringify(bad));
    }
  });
});

describe('adaptive linger: simulated traffic', () => {
  it('a steady high-rate type sends full messages (by count, and by bytes when maxBatchBytes comes first)', () => {
    const rand = seededRandom(1);
    const arrivals = poisson(20, 10_000, rand); // 20 000 events/s for 10 s
    const r = simulate(arrivals, { kind: 'adaptive', limits: LIMITS });
    const full = r.sizes.slice(0, -1); // the last one is whatever is left at the end
    assert.ok(full.length > 150);
    assert.deepEqual([...new Set(full)], [1000], 'every message but the last holds 1000 events');
    // At 150 bytes an event, 60 000 bytes make a message of 400.
    const byBytes = simulate(arrivals, { kind: 'adaptive', limits: { ...LIMITS, maxBatchBytes: 60_000 } });
    assert.deepEqual([...new Set(byBytes.sizes.slice(0, -1))], [400]);
    // Its linger follows the smaller message: twice 20 ms.
    const byBytesLingers = byBytes.lingers.slice(10);
    assert.ok(byBytesLingers.every((l) => l > 25 && l < 60), `lingers ${Math.min(...byBytesLingers)}..${Math.max(...byBytesLingers)} ms`);
    // Its linger is twice the time to fill a message (100 ms at 20 events/ms), within the budget.
    const lingers = r.lingers.slice(10);
    assert.ok(lingers.every((l) => l > 60 && l < 150), `lingers ${Math.min(...lingers)}..${Math.max(...lingers)} ms`);
  });

  it('a slow type does not wait beyond the budget, and one that sees an event every few seconds does not wait at all', () => {
    for (const [name, arrivals] of [
      ['every 3 s', periodic(3000, 600_000)],
      ['Poisson, one per 3 s', poisson(1 / 3000, 600_000, seededRandom(2))],
    ] as const) {
      const r = simulate(arrivals, { kind: 'adaptive', limits: LIMITS });
      assert.ok(r.waits.every((w) => w <= DEFAULT_MAX_LINGER_MS + EPS_MS), name);
      // Only the very first batch waits (a probe: nothing is known of the type yet).
      const waited = r.waits.filter((w) => w > TICK_MS + EPS_MS).length;
      assert.ok(waited <= 1, `${name}: ${waited} of ${r.messages} messages waited more than a timer tick`);
    }
    // 2/s is below the threshold (0.5 more events within 250 ms): it waits only when two events happen to
    // land in one tick's wait, which briefly overestimates its rate (under 1% of its messages).
    const twoPerS = simulate(poisson(0.002, 600_000, seededRandom(3)), { kind: 'adaptive', limits: LIMITS });
    assert.ok(twoPerS.waits.every((w) => w <= DEFAULT_MAX_LINGER_MS + EPS_MS));
    const waited = twoPerS.waits.filter((w) => w > TICK_MS + EPS_MS).length;
    assert.ok(waited <= twoPerS.messages / 100, `2/s: ${waited} of ${twoPerS.messages} messages waited more than a timer tick`);
    // A type just above the threshold (8/s: 2 more events within 250 ms) waits the budget, and gains.
    const r = simulate(poisson(0.008, 600_000, seededRandom(4)), { kind: 'adaptive', limits: LIMITS });
    assert.ok(r.waits.every((w) => w <= DEFAULT_MAX_LINGER_MS + EPS_MS));
    assert.ok(mean(r.sizes) > 2.5, `8/s: ${mean(r.sizes).toFixed(2)} events per message`);
  });

  it('callers that await each publish in turn are not slowed down: they measure no gain (only probes wait)', () => {
    for (const callers of [1, 8]) {
      const r = simulateClosedLoop(3, 60_000, callers);
      const waited = r.waits.filter((w) => w > TICK_MS + EPS_MS).length;
      // One probe at the start, then at most one per PROBE_EVERY_MS.
      assert.ok(waited <= 1 + 60_000 / PROBE_EVERY_MS, `${callers} callers: ${waited} batches waited`);
      // Against a fixed 20 ms linger (the former default: one round per 23 ms), more than 4× the events.
      assert.ok(r.events > (4 * callers * 60_000) / 23, `${callers} callers: ${r.events} events in 60 s`);
    }
  });

  it('a type that was fast and turns sparse stops waiting within ~20 s (the busy past fades with FORGET_MS)', () => {
    const arrivals = [...poisson(20, 5000, seededRandom(6)), ...periodic(3000, 605_000, 5000)];
    const r = simulate(arrivals, { kind: 'adaptive', limits: LIMITS });
    const sparse = r.waits.filter((_, i) => r.opens[i]! >= 5000);
    const waited = sparse.filter((w) => w > TICK_MS + EPS_MS).length;
    // Seen: 7 events, every 3 s, wait the budget before its estimate falls below 4/s.
    assert.ok(waited <= 8, `${waited} of ${sparse.length} sparse events waited more than a timer tick`);
  });

  it('a steady periodic type (50/s from a timer, never seen by a 1 ms wait) is found by a probe and then batched', () => {
    const r = simulate(periodic(20, 60_000, 5), { kind: 'adaptive', limits: LIMITS });
    // The first probe measures it: from then on every message holds ~13 events (250 ms / 20 ms + 1).
    const later = r.sizes.slice(Math.floor(r.sizes.length / 2));
    assert.ok(mean(later) >= 12, `50/s: ${mean(later).toFixed(2)} events per message`);
  });

  it('a gateway mix (500 types, Zipf rates, 40 000 events/s): events per message rise ≥ 5× over the former 20 ms default', () => {
    // One gateway of the scale model's 200 at 8 M events/s (docs/scale-model.md): type k carries 1/k of the weight.
    const types = 500;
    const harmonic = Array.from({ length: types }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b, 0);
    const durationMs = 20_000;
    const rand = seededRandom(5);
    let fixedEvents = 0;
    let adaptiveEvents = 0;
    let fixedMessages = 0;
    let adaptiveMessages = 0;
    let maxWait = 0;
    for (let k = 1; k <= types; k++) {
      const arrivals = poisson(40 / (harmonic * k), durationMs, rand);
      const fixed = simulate(arrivals, { kind: 'fixed', lingerMs: 20, limits: LIMITS });
      const adaptive = simulate(arrivals, { kind: 'adaptive', limits: LIMITS });
      // Messages opened after the first second: the adaptive linger starts from nothing known.
      const measured = (r: SimResult) => r.opens.map((t, i) => (t >= 1000 ? r.sizes[i]! : 0)).filter((n) => n > 0);
      const f = measured(fixed);
      const a = measured(adaptive);
      fixedEvents += f.reduce((x, y) => x + y, 0);
      adaptiveEvents += a.reduce((x, y) => x + y, 0);
      fixedMessages += f.length;
      adaptiveMessages += a.length;
      maxWait = Math.max(maxWait, ...adaptive.waits);
    }
    const fixedPer = fixedEvents / fixedMessages;
    const adaptivePer = adaptiveEvents / adaptiveMessages;
    console.log(`gateway mix: 20 ms ${fixedPer.toFixed(2)}, adaptive ${adaptivePer.toFixed(2)} events per message (${(adaptivePer / fixedPer).toFixed(2)}×)`);
    // Modelled (bench/scale-sim.ts): 4.1 and 23.2 events per message, 5.6×.
    assert.ok(fixedPer > 3.5 && fixedPer < 4.7, `20 ms: ${fixedPer.toFixed(2)} events per message`);
    assert.ok(adaptivePer / fixedPer >= 5, `adaptive ${adaptivePer.toFixed(2)} vs 20 ms ${fixedPer.toFixed(2)} events per message: ${(adaptivePer / fixedPer).toFixed(2)}×`);
    assert.ok(maxWait <= DEFAULT_MAX_LINGER_MS + EPS_MS, `an event waited ${maxWait} ms`);
  });
});
