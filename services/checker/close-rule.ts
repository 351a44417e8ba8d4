// The close rule, as a pure function: may window W of a type close now, and what proves it complete?
//
// Why it cannot close a window missing an acknowledged event (except as an explicit incomplete close
// after the max wait): for every publisher that could have events in W, it needs a bound B on their
// seqs (a heartbeat stamped at or after W's end, a final heartbeat, or — for a dead publisher — what
// it last reported). Receive times are non-decreasing in seq, so a missing seq lies between the
// windows of its covered neighbours; the rule closes only when no missing seq below B can lie in W.
// An acknowledged event has a seq below the next heartbeat's next_seq, so it is either covered or a
// gap that keeps W open. A dead publisher only lets W close without waiting for gaps it never had
// acknowledged (abandoned); gaps below its acknowledged mark still wait until the max wait.
//
// "Every publisher that could have events in W" includes one the checker has not heard of yet. The SDK
// stamps no event before Pub/Sub acknowledged its first heartbeat, so a publisher with events in W has a
// heartbeat published before W's end. The rule therefore also waits until the control topic has been read
// past W's end plus a margin (for delivery order and clock skew; see heartbeat-table.ts), so that heartbeat
// is in the table, and the publisher in the rule, before W can close.
import type { TypeProgress } from '../wire/heartbeat.ts';
import { windowOf } from '../wire/window.ts';
import type { WindowedRuns } from './windowed-runs.ts';

export interface PublisherView {
  readonly id: string;
  /** Publisher start (UTC µs), from its heartbeats; undefined if it never sent one. */
  readonly startedUs?: number;
  /** Its latest heartbeat, if any. */
  readonly heartbeat?: { readonly timeUs: number; readonly final: boolean; readonly types: Readonly<Record<string, TypeProgress>> };
  /** When we last heard of it (ms): Pub/Sub publish time of its latest heartbeat, or when it was first seen in staging. */
  readonly lastSeenMs: number;
  /**
   * Pub/Sub publish time of its latest heartbeat (ms) as received, where lastSeenMs may have been raised (a checker
   * counts liveness from its own start). Says when the publisher was last alive. Default: lastSeenMs.
   */
  readonly heartbeatPublishedMs?: number;
}

export interface CloseRuleInput {
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly nowMs: number;
  readonly livenessTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly publishers: ReadonlyMap<string, PublisherView>;
  /** How far the control topic has been read (Pub/Sub publish time, ms); undefined if not at all. */
  readonly controlReadToMs: number | undefined;
  /** The control topic must be read this far past the window end (ms) before the window may close. */
  readonly discoveryMarginMs: number;
  /**
   * When the deciding checker began reading the control topic (ms). Until it has read anything (at most FIRST_READ_GRACE_MS), a
   * max wait that passed is not enough to close: a checker that has just started (after a crash, a deploy, an outage longer than
   * the max wait) has not read the heartbeats that may prove the window yet. Undefined: no grace.
   */
  readonly readingSinceMs?: number;
  /** Coverage per publisher: every seq staged (any window) or already delivered. */
  readonly coverage: ReadonlyMap<string, WindowedRuns>;
  /** Publishers with staged events in this window. */
  readonly seenInWindow: ReadonlySet<string>;
}

export type Bound = 'heartbeat' | 'final' | 'dead' | 'lagging' | 'none';

export interface PublisherProof {
  readonly publisher: string;
  /** How the bound was obtained: a heartbeat at/after the window end, a final heartbeat, liveness timeout (dead, or a clock lagging past it), or none (max wait). */
  readonly boundBy: Bound;
  /** Every seq of this publisher in the window is below this. */
  readonly bound: number;
  readonly heartbeatTimeUs?: number;
  readonly ackedBelow: number;
  /** Missing seqs below the acknowledged mark: data loss. */
  readonly lost: Array<[number, number]>;
  /** Missing seqs Pub/Sub never acknowledged to the publisher (failed, or in flight when it died). */
  readonly abandoned: Array<[number, number]>;
}

export type CloseDecision =
  | { readonly kind: 'wait'; readonly waitingOn: string[] }
  | {
      readonly kind: 'close';
      readonly status: 'complete' | 'incomplete';
      readonly proofs: PublisherProof[];
      readonly reason: string;
      /** Publishers bounded by a heartbeat after the window that never stamped a seq of this type: counted, not in `proofs`. */
      readonly otherPublishersBounded: number;
    };

/** How long a checker that has just started may read the control topic before a max wait closes a window without it (ms). */
export const FIRST_READ_GRACE_MS = 30_000;

/** Publishers a waiting decision names as unheard since the window end; the rest are counted (a status file lists every waiting window). */
export const MAX_UNHEARD_NAMED = 10;

export function decideClose(input: CloseRuleInput): CloseDecision {
  const windowStartUs = input.window * input.windowS * 1_000_000;
  const windowEndUs = windowStartUs + input.windowS * 1_000_000;
  const windowEndMs = windowEndUs / 1000;
  const pastMaxWait = input.nowMs >= windowEndMs + input.maxWaitMs;
  const waitingOn: string[] = [];
  const unheard: string[] = [];
  const proofs: PublisherProof[] = [];
  let otherPublishersBounded = 0;
  let pendingAtMaxWait = false;

  // Until the control topic is read past the end, a publisher that started before it may still be unknown.
  const discovered = input.controlReadToMs !== undefined && input.controlReadToMs >= windowEndMs + input.discoveryMarginMs;
  const firstRead = input.controlReadToMs === undefined && input.readingSinceMs !== undefined && input.nowMs < input.readingSinceMs + FIRST_READ_GRACE_MS;
  if (!discovered) {
    if (pastMaxWait && !firstRead) pendingAtMaxWait = true;
    else {
      const readTo = input.controlReadToMs === undefined ? 'not read yet' : `read to ${new Date(input.controlReadToMs).toISOString()}`;
      waitingOn.push(`control topic ${readTo}; needs ${input.discoveryMarginMs} ms past the window end (a publisher not heard of yet may have events here)`);
    }
  }

  const ids = new Set(input.seenInWindow);
  for (const p of input.publishers.values()) {
    const hb = p.heartbeat;
    if (!hb) continue;
    if (p.startedUs !== undefined && p.startedUs >= windowEndUs) continue; // started after W
    const dead = !hb.final && input.nowMs - p.lastSeenMs > input.livenessTimeoutMs;
    // Gone before W began, by both clocks: its own (a clock behind says "before" for a heartbeat sent during W)
    // and Pub/Sub's publish time of its last heartbeat (which a clock ahead cannot move back).
    if ((hb.final || dead) && hb.timeUs < windowStartUs && (p.heartbeatPublishedMs ?? p.lastSeenMs) < windowStartUs / 1000) continue;
    // Bounded past the window, never stamped a seq of this type, nothing of it here or covered: nothing to prove (the
    // loop below finds exactly that, at a cost per publisher that hundreds of types sharing a thousand would pay).
    if ((hb.final || hb.timeUs >= windowEndUs) && hb.types[input.type] === undefined && !input.seenInWindow.has(p.id) && !input.coverage.has(p.id)) {
      otherPublishersBounded++;
      continue;
    }
    ids.add(p.id);
  }

  for (const id of [...ids].sort()) {
    const p = input.publishers.get(id);
    const hb = p?.heartbeat;
    const progress = hb?.types[input.type] ?? { nextSeq: 0, ackedBelow: 0 };
    const coverage = input.coverage.get(id);
    const covered = coverage?.end() ?? 0;
    const lastSeenMs = p?.lastSeenMs ?? input.nowMs;
    const dead = !(hb?.final ?? false) && input.nowMs - lastSeenMs > input.livenessTimeoutMs;

    let boundBy: Bound;
    let bound: number;
    let ceilingWindow: number;
    if (hb && (hb.final || hb.timeUs >= windowEndUs)) {
      boundBy = hb.final ? 'final' : 'heartbeat';
      bound = progress.nextSeq;
      ceilingWindow = windowOf(hb.timeUs, input.windowS);
    } else if (hb && lastSeenMs - windowEndMs > input.livenessTimeoutMs) {
      // Alive (Pub/Sub stamped a heartbeat of it well after W ended) but its clock has not reached W's
      // end: a clock lagging by more than the liveness timeout. Treat it like a dead publisher for W,
      // so a bad clock cannot hold a window; what it stamps into W from now on goes to the late area.
      boundBy = 'lagging';
      bound = Math.max(progress.nextSeq, covered);
      ceilingWindow = Math.max(windowOf(hb.timeUs, input.windowS), input.window);
    } else if (dead) {
      boundBy = 'dead';
      bound = Math.max(progress.nextSeq, covered);
      ceilingWindow = Math.max(hb ? windowOf(hb.timeUs, input.windowS) : input.window, input.window);
    } else if (pastMaxWait) {
      boundBy = 'none';
      bound = Math.max(progress.nextSeq, covered);
      ceilingWindow = Number.MAX_SAFE_INTEGER;
    } else {
      unheard.push(id);
      continue;
    }

    const floorWindow = p?.startedUs !== undefined ? windowOf(p.startedUs, input.windowS) : Number.MIN_SAFE_INTEGER;
    const gaps = (coverage?.gapsBelow(bound, floorWindow, ceilingWindow) ?? (bound > 0 ? [{ from: 0, to: bound, lowWindow: floorWindow, highWindow: ceilingWindow }] : []))
      .filter((g) => g.lowWindow <= input.window && input.window <= g.highWindow);
    const failed = progress.failed ?? [];
    const lost: Array<[number, number]> = [];
    const abandoned: Array<[number, number]> = [];
    let pending = false;
    for (const gap of gaps) {
      for (const [from, to] of subtractRanges([gap.from, gap.to], failed)) {
        // Split at the acknowledged mark: below it Pub/Sub had the events, so they must still arrive.
        const split = Math.min(Math.max(progress.ackedBelow, from), to);
        if (split > from) {
          if (pastMaxWait) lost.push([from, split]);
          else pending = true;
        }
        if (to > split) {
          if (dead || boundBy === 'lagging' || boundBy === 'none' || pastMaxWait) abandoned.push([split, to]);
          else pending = true;
        }
      }
      for (const [from, to] of intersectRanges([gap.from, gap.to], failed)) abandoned.push([from, to]);
    }
    if (pending) {
      waitingOn.push(`${id}: seqs missing below ${bound} that may fall in the window`);
      continue;
    }
    if (boundBy === 'none') pendingAtMaxWait = true;
    // A heartbeat after the window that has never stamped a seq of this type: nothing of it can be here. Left out of the
    // proof, so a manifest names only the publishers of its type (hundreds of types share a thousand publishers).
    if ((boundBy === 'heartbeat' || boundBy === 'final') && bound === 0 && lost.length === 0 && abandoned.length === 0 && !input.seenInWindow.has(id)) {
      otherPublishersBounded++;
      continue;
    }
    proofs.push({
      publisher: id,
      boundBy,
      bound,
      ...(hb ? { heartbeatTimeUs: hb.timeUs } : {}),
      ackedBelow: progress.ackedBelow,
      lost: mergeRanges(lost),
      abandoned: mergeRanges(abandoned),
    });
  }

  if (unheard.length > 0) {
    const named = unheard.slice(0, MAX_UNHEARD_NAMED).map((id) => `${id}: no heartbeat at or after the window end yet`);
    const more = unheard.length - named.length;
    waitingOn.push(...named, ...(more > 0 ? [`${more} more publishers: no heartbeat at or after the window end yet`] : []));
  }
  if (waitingOn.length > 0) return { kind: 'wait', waitingOn };
  const anyLost = proofs.some((p) => p.lost.length > 0);
  const status = anyLost || pendingAtMaxWait ? 'incomplete' : 'complete';
  const reason = !pastMaxWait || status === 'complete'
    ? 'every publisher bounded and covered'
    : discovered
      ? `max wait of ${input.maxWaitMs} ms passed with gaps`
      : `max wait of ${input.maxWaitMs} ms passed before the control topic was read past the window end`;
  return { kind: 'close', status, proofs, reason, otherPublishersBounded };
}

function subtractRanges(range: [number, number], minus: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  let parts: Array<[number, number]> = [range];
  for (const [mFrom, mTo] of minus) {
    const next: Array<[number, number]> = [];
    for (const [from, to] of parts) {
      if (mTo <= from || mFrom >= to) next.push([from, to]);
      else {
        if (mFrom > from) next.push([from, mFrom]);
        if (mTo < to) next.push([mTo, to]);
      }
    }
    parts = next;
  }
  return parts;
}

function intersectRanges(range: [number, number], others: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [from, to] of others) {
    const a = Math.max(from, range[0]);
    const b = Math.min(to, range[1]);
    if (b > a) out.push([a, b]);
  }
  return out;
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}
