// The close rule as a table of situations: when a window may close, and what it reports missing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideClose, FIRST_READ_GRACE_MS, MAX_UNHEARD_NAMED, type CloseRuleInput, type PublisherView } from '../../services/checker/close-rule.ts';
import { WindowedRuns } from '../../services/checker/windowed-runs.ts';

// 10-second windows; window 100 spans [1000 s, 1010 s).
const W = 100;
const endMs = 1_010_000;
const us = (ms: number) => ms * 1000;

function input(over: Partial<CloseRuleInput> & { runs?: Record<string, Array<[number, number, number]>> }): CloseRuleInput {
  const coverage = new Map<string, WindowedRuns>();
  for (const [p, runs] of Object.entries(over.runs ?? {})) {
    const r = new WindowedRuns();
    for (const [from, to, w] of runs) r.add(from, to, w, w);
    coverage.set(p, r);
  }
  return {
    type: 't',
    window: W,
    windowS: 10,
    nowMs: endMs + 1000,
    livenessTimeoutMs: 5000,
    maxWaitMs: 60_000,
    publishers: new Map(),
    // By default the control topic has been read well past the end: only C16 is about discovery.
    controlReadToMs: endMs + 900,
    discoveryMarginMs: 500,
    coverage,
    seenInWindow: new Set(Object.keys(over.runs ?? {})),
    ...over,
  };
}

function pub(id: string, hb: { timeMs: number; nextSeq: number; ackedBelow?: number; final?: boolean; failed?: Array<[number, number]> }, lastSeenMs = hb.timeMs): [string, PublisherView] {
  return [id, {
    id,
    startedUs: us(990_000),
    heartbeat: { timeUs: us(hb.timeMs), final: hb.final ?? false, types: { t: { nextSeq: hb.nextSeq, ackedBelow: hb.ackedBelow ?? hb.nextSeq, ...(hb.failed ? { failed: hb.failed } : {}) } } },
    lastSeenMs,
  }];
}

describe('close rule', () => {
  it('C01 closes complete when a heartbeat after the window end bounds a fully covered publisher', () => {
    const d = decideClose(input({ runs: { a: [[0, 50, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 })]) }));
    assert.equal(d.kind, 'close');
    assert.equal(d.kind === 'close' && d.status, 'complete');
    assert.equal(d.kind === 'close' && d.proofs[0]!.boundBy, 'heartbeat');
  });

  it('C02 waits while the latest heartbeat is older than the window end', () => {
    const d = decideClose(input({ runs: { a: [[0, 50, W]] }, publishers: new Map([pub('a', { timeMs: endMs - 100, nextSeq: 50 })]) }));
    assert.equal(d.kind, 'wait');
  });

  it('C03 waits for a gap inside the window (an acknowledged event not yet staged)', () => {
    const d = decideClose(input({ runs: { a: [[0, 20, W], [30, 50, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 })]) }));
    assert.equal(d.kind, 'wait');
  });

  it('C04 waits for the seqs between the window and the next one (they may be in this window)', () => {
    const d = decideClose(input({ runs: { a: [[0, 50, W], [60, 70, W + 1]] }, publishers: new Map([pub('a', { timeMs: endMs + 2000, nextSeq: 70 })]) }));
    assert.equal(d.kind, 'wait');
  });

  it('C05 ignores gaps that can only be in later windows', () => {
    const d = decideClose(input({ runs: { a: [[0, 50, W], [60, 70, W + 1]] }, publishers: new Map([pub('a', { timeMs: endMs + 20_000, nextSeq: 90 })]) }));
    // [50,60) lies between windows W and W+1: still blocks. Fill it and the gap [70,90) is after W+1 only.
    assert.equal(d.kind, 'wait');
    const filled = decideClose(input({ runs: { a: [[0, 50, W], [50, 70, W + 1]] }, publishers: new Map([pub('a', { timeMs: endMs + 20_000, nextSeq: 90 })]) }));
    assert.equal(filled.kind, 'close');
  });

  it('C06 a final heartbeat bounds a publisher even if it is older than the window end', () => {
    const d = decideClose(input({ runs: { a: [[0, 10, W]] }, publishers: new Map([pub('a', { timeMs: endMs - 3000, nextSeq: 10, final: true })]) }));
    assert.equal(d.kind === 'close' && d.proofs[0]!.boundBy, 'final');
  });

  it('C07 a dead publisher (no heartbeat for the liveness timeout) closes with what arrived; unacknowledged gaps are abandoned', () => {
    const publishers = new Map([pub('a', { timeMs: endMs - 1000, nextSeq: 40, ackedBelow: 30 }, endMs - 1000)]);
    const early = decideClose(input({ runs: { a: [[0, 30, W]] }, publishers, nowMs: endMs + 3000 }));
    assert.equal(early.kind, 'wait', 'not yet dead');
    const d = decideClose(input({ runs: { a: [[0, 30, W]] }, publishers, nowMs: endMs + 5000 }));
    assert.equal(d.kind, 'close');
    if (d.kind !== 'close') return;
    assert.equal(d.status, 'complete');
    assert.deepEqual(d.proofs[0], { publisher: 'a', boundBy: 'dead', bound: 40, heartbeatTimeUs: us(endMs - 1000), ackedBelow: 30, lost: [], abandoned: [[30, 40]] });
  });

  it('C08 a dead publisher\'s acknowledged gap still waits, then is reported lost after the max wait', () => {
    const publishers = new Map([pub('a', { timeMs: endMs - 1000, nextSeq: 40, ackedBelow: 40 }, endMs - 1000)]);
    const runs = { a: [[0, 10, W], [20, 40, W]] as Array<[number, number, number]> };
    assert.equal(decideClose(input({ runs, publishers, nowMs: endMs + 10_000 })).kind, 'wait');
    const d = decideClose(input({ runs, publishers, nowMs: endMs + 60_000 }));
    assert.equal(d.kind === 'close' && d.status, 'incomplete');
    assert.deepEqual(d.kind === 'close' && d.proofs[0]!.lost, [[10, 20]]);
  });

  it('C09 after the max wait a gap splits into lost (below the acknowledged mark) and abandoned', () => {
    const publishers = new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50, ackedBelow: 25 }, endMs + 59_000)]);
    const d = decideClose(input({ runs: { a: [[0, 20, W], [30, 50, W]] }, publishers, nowMs: endMs + 60_000 }));
    assert.equal(d.kind === 'close' && d.status, 'incomplete');
    assert.deepEqual(d.kind === 'close' && [d.proofs[0]!.lost, d.proofs[0]!.abandoned], [[[20, 25]], [[25, 30]]]);
  });

  it('C10 ranges the publisher reported as failed are abandoned at once, not waited for', () => {
    const publishers = new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50, ackedBelow: 50, failed: [[20, 30]] })]);
    const d = decideClose(input({ runs: { a: [[0, 20, W], [30, 50, W]] }, publishers }));
    assert.equal(d.kind === 'close' && d.status, 'complete');
    assert.deepEqual(d.kind === 'close' && d.proofs[0]!.abandoned, [[20, 30]]);
  });

  it('C11 a live publisher with nothing staged in the window but events in flight blocks it', () => {
    const publishers = new Map([pub('a', { timeMs: endMs + 100, nextSeq: 5 })]);
    const d = decideClose(input({ runs: {}, publishers, seenInWindow: new Set() }));
    assert.equal(d.kind, 'wait');
  });

  it('C12 publishers that started after the window, or ended cleanly before it, are not waited for', () => {
    const late: [string, PublisherView] = ['late', { id: 'late', startedUs: us(endMs + 1), heartbeat: { timeUs: us(endMs + 5), final: false, types: { t: { nextSeq: 3, ackedBelow: 0 } } }, lastSeenMs: endMs }];
    const gone = pub('gone', { timeMs: 990_000, nextSeq: 3, final: true });
    const d = decideClose(input({ runs: { a: [[0, 5, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), late, gone]) }));
    assert.equal(d.kind, 'close');
    assert.deepEqual(d.kind === 'close' && d.proofs.map((p) => p.publisher), ['a']);
  });

  it('C13 a publisher seen in staging that never sent a heartbeat is waited for until its liveness timeout', () => {
    const publishers = new Map<string, PublisherView>([['x', { id: 'x', lastSeenMs: endMs - 500 }]]);
    assert.equal(decideClose(input({ runs: { x: [[0, 5, W]] }, publishers, nowMs: endMs + 1000 })).kind, 'wait');
    const d = decideClose(input({ runs: { x: [[0, 5, W]] }, publishers, nowMs: endMs + 6000 }));
    assert.equal(d.kind === 'close' && d.proofs[0]!.boundBy, 'dead');
  });
});

describe('close rule and clocks', () => {
  it('C17 a publisher whose clock is behind and whose heartbeats stopped reaching us during the window is named in the proof (dead), not taken as gone before it', () => {
    // Clock-chaos regression (local seed 20261122, clean-clone CI): its clock 7.4 s behind, so its last heartbeat says
    // 999 s, before the window; Pub/Sub stamped it at 1006 s, inside. The replica holding its later heartbeats was
    // killed, so to us it looks dead. It may have stamped events into the window (its clock had not reached the end):
    // the proof must bound it, and what it did not acknowledge is abandoned, so a late arrival is explained.
    const skewed = pub('skewed', { timeMs: 999_000, nextSeq: 110, ackedBelow: 100 }, 1_006_000);
    // Nothing of it staged in the window yet: only the heartbeats can bring it into the rule.
    const d = decideClose(input({ runs: { a: [[0, 5, W]], skewed: [[0, 100, W - 1]] }, seenInWindow: new Set(['a']), publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), skewed]), nowMs: endMs + 3000 }));
    assert.equal(d.kind, 'close');
    if (d.kind !== 'close') return;
    const proof = d.proofs.find((p) => p.publisher === 'skewed');
    assert.ok(proof, `the skewed publisher is in the proof: ${JSON.stringify(d.proofs.map((p) => p.publisher))}`);
    assert.equal(proof.boundBy, 'dead');
    assert.deepEqual(proof.abandoned, [[100, 110]]);
    // Gone before the window by both clocks (its own and Pub/Sub's): still not waited for (C12).
    const gone = pub('gone', { timeMs: 999_000, nextSeq: 7 }, 999_500);
    const g = decideClose(input({ runs: { a: [[0, 5, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), gone]), nowMs: endMs + 3000 }));
    assert.deepEqual(g.kind === 'close' && g.proofs.map((p) => p.publisher), ['a']);
    // Also after a checker restart, which counts liveness from its own start (lastSeenMs raised): the publish time decides.
    const goneLongAgo: [string, PublisherView] = ['old', { ...gone[1], id: 'old', lastSeenMs: endMs, heartbeatPublishedMs: 999_500 }];
    const r = decideClose(input({ runs: { a: [[0, 5, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), goneLongAgo]), nowMs: endMs + 6000 }));
    assert.deepEqual(r.kind === 'close' && r.proofs.map((p) => p.publisher), ['a']);
  });

  it('C14 a live publisher whose clock lags by more than the liveness timeout does not hold the window', () => {
    // Its heartbeats reach Pub/Sub 6 s after the window end, but its clock still says 20 s before it.
    const lagging = pub('slow', { timeMs: endMs - 20_000, nextSeq: 12, ackedBelow: 12 }, endMs + 6000);
    const d = decideClose(input({ runs: { a: [[0, 5, W]], slow: [[0, 12, W - 2]] }, publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), lagging]), nowMs: endMs + 6500 }));
    assert.equal(d.kind, 'close');
    assert.deepEqual(d.kind === 'close' && d.proofs.find((p) => p.publisher === 'slow')?.boundBy, 'lagging');
    const early = decideClose(input({ runs: { a: [[0, 5, W]] }, publishers: new Map([pub('a', { timeMs: endMs + 10, nextSeq: 5 }), pub('slow', { timeMs: endMs - 20_000, nextSeq: 12 }, endMs + 1000)]), nowMs: endMs + 1500 }));
    assert.equal(early.kind, 'wait', 'within the liveness timeout the window still waits for it');
  });

  it('C15 a window with nothing staged waits for every live publisher, and closes empty only when none can have events in it', () => {
    // a's events are in the windows before and after W: nothing of a can be in W.
    const runs = { a: [[0, 10, W - 1], [10, 20, W + 1]] as Array<[number, number, number]> };
    const empty = (over: Parameters<typeof input>[0]) => decideClose(input({ runs, seenInWindow: new Set(), ...over }));
    assert.equal(empty({ publishers: new Map([pub('a', { timeMs: endMs - 100, nextSeq: 10 })]) }).kind, 'wait', 'no heartbeat past the end yet');
    const closed = empty({ publishers: new Map([pub('a', { timeMs: endMs + 5000, nextSeq: 20 })]) });
    assert.equal(closed.kind, 'close');
    assert.equal(closed.kind === 'close' && closed.status, 'complete');
    // A seq between W-1 and W+1 that is not staged may be in W: the empty window waits for it.
    const gap = empty({ runs: { a: [[0, 10, W - 1], [11, 20, W + 1]] }, publishers: new Map([pub('a', { timeMs: endMs + 5000, nextSeq: 20 })]) });
    assert.equal(gap.kind, 'wait');
  });

  it('C18 a manifest names only the publishers of its type: one whose heartbeat after the window never stamped it is left out, one silent or dead is not', () => {
    const otherType = (id: string, timeMs: number, lastSeenMs = timeMs): [string, PublisherView] => [id, { id, startedUs: us(990_000), heartbeat: { timeUs: us(timeMs), final: false, types: { other: { nextSeq: 9, ackedBelow: 9 } } }, lastSeenMs }];
    const publishers = new Map([
      pub('a', { timeMs: endMs + 100, nextSeq: 50 }),
      pub('zero', { timeMs: endMs + 100, nextSeq: 0 }),
      otherType('b', endMs + 100),
      // Dead before it said anything of this type: kept, the proof says it was closed without hearing from it.
      otherType('dead', endMs - 8000, endMs - 8000),
    ]);
    const d = decideClose(input({ runs: { a: [[0, 50, W]] }, publishers, nowMs: endMs + 2000 }));
    assert.equal(d.kind === 'close' && d.status, 'complete');
    assert.deepEqual(d.kind === 'close' && d.proofs.map((p) => `${p.publisher} ${p.boundBy}`), ['a heartbeat', 'dead dead']);
    assert.equal(d.kind === 'close' && d.otherPublishersBounded, 2, 'zero and b: bounded, counted');
    // One still waited on (its heartbeat is older than the window end) holds the window whatever types it used.
    const waiting = decideClose(input({ runs: { a: [[0, 50, W]] }, publishers: new Map([...publishers, otherType('slow', endMs - 100)]), nowMs: endMs + 2000 }));
    assert.equal(waiting.kind, 'wait');
  });

  it('C16 waits until the control topic is read past the end plus the margin: a publisher not heard of yet may have events in the window', () => {
    const known = new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 })]);
    const runs = { a: [[0, 50, W]] as Array<[number, number, number]> };
    for (const readTo of [undefined, endMs - 1000, endMs + 499]) {
      const d = decideClose(input({ runs, publishers: known, controlReadToMs: readTo }));
      assert.equal(d.kind, 'wait', `control read to ${readTo}`);
      assert.match(d.kind === 'wait' ? d.waitingOn.join('; ') : '', /control topic (not read yet|read to .*); needs 500 ms past the window end/);
    }
    const d = decideClose(input({ runs, publishers: known, controlReadToMs: endMs + 500 }));
    assert.equal(d.kind === 'close' && d.status, 'complete');
    // No publisher at all: the empty window still waits for the topic to be read past its end.
    assert.equal(decideClose(input({ controlReadToMs: endMs + 100 })).kind, 'wait');
    assert.equal(decideClose(input({ controlReadToMs: endMs + 600 })).kind, 'close');
    // A topic never read past the end (no checker consuming it) holds the window only until the max wait, then closes it incomplete.
    const stuck = decideClose(input({ runs, publishers: known, controlReadToMs: endMs - 1000, nowMs: endMs + 60_000 }));
    assert.equal(stuck.kind === 'close' && stuck.status, 'incomplete');
    assert.match(stuck.kind === 'close' ? stuck.reason : '', /before the control topic was read past the window end/);
  });

  it('C18 a checker that has just started reads the control topic before a max wait closes a window without it, for at most the grace', () => {
    const known = new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 })]);
    const runs = { a: [[0, 40, W]] as Array<[number, number, number]> };
    const nowMs = endMs + 3_600_000; // an hour past the end: long past the max wait (the checker was down)
    // Nothing read yet, started a second ago: it waits, naming the topic.
    const fresh = decideClose(input({ runs, publishers: new Map(), controlReadToMs: undefined, nowMs, readingSinceMs: nowMs - 1000 }));
    assert.equal(fresh.kind, 'wait');
    assert.match(fresh.kind === 'wait' ? fresh.waitingOn.join('; ') : '', /control topic not read yet/);
    // Once read, the heartbeats decide: complete where they prove it (here: 40..50 missing below the acknowledged mark, so lost).
    const read = decideClose(input({ runs, publishers: known, controlReadToMs: nowMs - 500, nowMs, readingSinceMs: nowMs - 1000 }));
    assert.equal(read.kind === 'close' && read.status, 'incomplete');
    assert.deepEqual(read.kind === 'close' && read.proofs.map((p) => [p.boundBy, p.lost]), [['heartbeat', [[40, 50]]]]);
    // Never read within the grace (the topic is broken): the max wait closes it, as before.
    const late = decideClose(input({ runs, publishers: new Map(), controlReadToMs: undefined, nowMs, readingSinceMs: nowMs - FIRST_READ_GRACE_MS }));
    assert.equal(late.kind === 'close' && late.status, 'incomplete');
    assert.match(late.kind === 'close' ? late.reason : '', /before the control topic was read past the window end/);
    // Without readingSinceMs (no grace), unchanged.
    assert.equal(decideClose(input({ runs, publishers: new Map(), controlReadToMs: undefined, nowMs })).kind, 'close');
  });

  it('C19 hundreds of publishers of other types: bounded past the end they are counted, not proven; unheard ones are named up to a limit, the rest counted', () => {
    const other = (id: string, timeMs: number): [string, PublisherView] => [id, { id, startedUs: us(990_000), heartbeat: { timeUs: us(timeMs), final: false, types: { u: { nextSeq: 9, ackedBelow: 9 } } }, lastSeenMs: timeMs }];
    const others = Array.from({ length: 300 }, (_, i) => other(`o${String(i).padStart(3, '0')}`, endMs + 200));
    const runs = { a: [[0, 50, W]] as Array<[number, number, number]> };
    const bounded = decideClose(input({ runs, publishers: new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 }), ...others]) }));
    assert.equal(bounded.kind === 'close' && bounded.status, 'complete');
    assert.deepEqual(bounded.kind === 'close' && bounded.proofs.map((p) => p.publisher), ['a'], 'the manifest names only the publisher of the type');
    assert.equal(bounded.kind === 'close' && bounded.otherPublishersBounded, 300);
    // The same publishers not heard from since the end: the window waits on each, and names the first MAX_UNHEARD_NAMED.
    const unheard = others.map(([id]) => other(id, endMs - 200));
    const waiting = decideClose(input({ runs, publishers: new Map([pub('a', { timeMs: endMs + 100, nextSeq: 50 }), ...unheard]) }));
    assert.equal(waiting.kind, 'wait');
    const waitingOn = waiting.kind === 'wait' ? waiting.waitingOn : [];
    assert.equal(waitingOn.length, MAX_UNHEARD_NAMED + 1);
    assert.equal(waitingOn[0], 'o000: no heartbeat at or after the window end yet');
    assert.equal(waitingOn.at(-1), `${300 - MAX_UNHEARD_NAMED} more publishers: no heartbeat at or after the window end yet`);
  });
});

describe('windowed runs', () => {
  it('merges overlapping and touching runs, keeping the window span', () => {
    const r = new WindowedRuns();
    r.add(10, 20, 5, 5);
    r.add(0, 10, 4, 4);
    r.add(30, 40, 7, 7);
    r.add(15, 31, 6, 6);
    assert.deepEqual(r.runs, [{ from: 0, to: 40, firstWindow: 4, lastWindow: 7 }]);
    assert.equal(r.covers(5, 39), true);
  });
  it('reports uncovered ranges and gaps with neighbour windows', () => {
    const r = WindowedRuns.of([{ from: 5, to: 10, firstWindow: 3, lastWindow: 3 }, { from: 20, to: 30, firstWindow: 4, lastWindow: 5 }]);
    assert.deepEqual(r.uncovered(0, 35), [[0, 5], [10, 20], [30, 35]]);
    assert.deepEqual(r.gapsBelow(40, 1, 9), [
      { from: 0, to: 5, lowWindow: 1, highWindow: 3 },
      { from: 10, to: 20, lowWindow: 3, highWindow: 4 },
      { from: 30, to: 40, lowWindow: 5, highWindow: 9 },
    ]);
  });
});
