// The benchmarks' per-seq ledger against a plain count per seq: missing, duplicated and unexpected events, exactly, whatever order and runs the records come in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeqLedger, SeqRuns, tallyStream } from '../../bench/kit/seq-ledger.ts';

/** The reference: a count per seq. */
function naiveTally(seqs: readonly number[], acknowledged: number): { missing: number; duplicates: number; unexpected: number } {
  const counts = new Map<number, number>();
  for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
  let missing = 0;
  let duplicates = 0;
  let unexpected = 0;
  for (let s = 0; s < acknowledged; s++) {
    const n = counts.get(s) ?? 0;
    if (n === 0) missing++;
    else duplicates += n - 1;
  }
  for (const [s, n] of counts) if (s < 0 || s >= acknowledged) unexpected += n;
  return { missing, duplicates, unexpected };
}

/** Seqs as records arrive: runs of consecutive seqs (messages), shuffled, some repeated, some dropped, some past the end. */
const arrivals = fc
  .record({
    acknowledged: fc.integer({ min: 0, max: 300 }),
    runs: fc.array(fc.record({ from: fc.integer({ min: -3, max: 320 }), count: fc.integer({ min: 0, max: 40 }) }), { maxLength: 30 }),
    singles: fc.array(fc.integer({ min: -2, max: 310 }), { maxLength: 20 }),
    complete: fc.boolean(),
  })
  .chain((a) => {
    const seqs: number[] = a.complete ? Array.from({ length: a.acknowledged }, (_, i) => i) : [];
    for (const r of a.runs) for (let i = 0; i < r.count; i++) seqs.push(r.from + i);
    seqs.push(...a.singles);
    return fc.shuffledSubarray(seqs, { minLength: seqs.length }).map((shuffled) => ({ acknowledged: a.acknowledged, seqs: shuffled, sorted: [...seqs].sort((x, y) => x - y) }));
  });

describe('SeqLedger', () => {
  it('counts missing, duplicated and unexpected seqs exactly as a count per seq does, records one by one in any order', () => {
    fc.assert(
      fc.property(arrivals, ({ acknowledged, seqs }) => {
        const runs = new SeqRuns();
        for (const s of seqs) runs.add(s);
        const { examples, ...got } = tallyStream(runs, acknowledged);
        assert.deepEqual(got, naiveTally(seqs, acknowledged));
        assert.equal(examples.length > 0, got.missing + got.duplicates > 0);
      }),
      { numRuns: 500, seed: 20261202 },
    );
  });

  it('counts the same when records arrive as ranges (staging manifests list messages as seq ranges)', () => {
    fc.assert(
      fc.property(arrivals, ({ acknowledged, sorted }) => {
        const runs = new SeqRuns();
        // Consecutive equal-step stretches of the sorted seqs as ranges; repeats start new ranges.
        for (let i = 0; i < sorted.length; ) {
          let j = i + 1;
          while (j < sorted.length && sorted[j] === sorted[j - 1]! + 1) j++;
          runs.addRange(sorted[i]!, j - i);
          i = j;
        }
        const { examples: _examples, ...got } = tallyStream(runs, acknowledged);
        assert.deepEqual(got, naiveTally(sorted, acknowledged));
      }),
      { numRuns: 500, seed: 20261202 },
    );
  });

  it('a stream nobody acknowledged is unexpected as a whole; an acknowledged stream never seen is missing as a whole', () => {
    const ledger = new SeqLedger();
    const a = ledger.stream('track_played', 'pub-a');
    for (let s = 0; s < 10; s++) a.add(s);
    ledger.stream('track_played', 'pub-x').addRange(0, 4);
    ledger.stream('ui_interaction', 'pub-a').add(0); // same publisher, another type: its own stream
    const t = ledger.compare([
      { type: 'track_played', publisher: 'pub-a', events: 10 },
      { type: 'track_played', publisher: 'pub-b', events: 7 },
      { type: 'ui_interaction', publisher: 'pub-a', events: 1 },
    ]);
    assert.deepEqual({ missing: t.missing, duplicates: t.duplicates, unexpected: t.unexpected }, { missing: 7, duplicates: 0, unexpected: 4 });
    assert.ok(t.examples.some((e) => e.includes('pub-b') && e.includes('missing [0, 7)')));
    assert.ok(t.examples.some((e) => e.includes('pub-x')));
  });

  it('pins a triple copy: a seq seen three times is two duplicates, with the totals agreeing', () => {
    const runs = new SeqRuns();
    for (const s of [0, 1, 2, 1, 1]) runs.add(s);
    // 5 records for 3 acknowledged seqs, and seq 3 missing: totals would say 5 ≥ 4.
    const t = tallyStream(runs, 4);
    assert.deepEqual({ missing: t.missing, duplicates: t.duplicates, unexpected: t.unexpected }, { missing: 1, duplicates: 2, unexpected: 0 });
  });
});
