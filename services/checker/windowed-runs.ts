// Seq coverage of one (type, publisher): sorted, merged runs of seqs, each knowing which windows it spans.
//
// Runs stay few (a publisher's delivered seqs are one run plus a run per real gap), so coverage is
// bounded by the number of gaps, not the number of events.

export interface Run {
  /** First seq of the run. */
  from: number;
  /** One past the last seq. */
  to: number;
  /** Window of the first and last seq. Windows are non-decreasing in seq. */
  firstWindow: number;
  lastWindow: number;
}

export interface Gap {
  readonly from: number;
  readonly to: number;
  /** Lowest and highest window the missing seqs can be in (from their neighbours' windows). */
  readonly lowWindow: number;
  readonly highWindow: number;
}

/** The runs of `key` in `map`, created empty the first time. */
export function runsOf<K>(map: Map<K, WindowedRuns>, key: K): WindowedRuns {
  let r = map.get(key);
  if (!r) map.set(key, (r = new WindowedRuns()));
  return r;
}

export class WindowedRuns {
  readonly runs: Run[] = [];

  static of(runs: readonly Run[]): WindowedRuns {
    const out = new WindowedRuns();
    for (const r of runs) out.add(r.from, r.to, r.firstWindow, r.lastWindow);
    return out;
  }

  /** Adds seqs [from, to) spanning windows firstWindow..lastWindow, merging overlapping or touching runs. */
  add(from: number, to: number, firstWindow: number, lastWindow: number): void {
    if (to <= from) return;
    const runs = this.runs;
    // Binary search for the first run that ends at or after `from`.
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]!.to < from) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    const merged: Run = { from, to, firstWindow, lastWindow };
    while (i < runs.length && runs[i]!.from <= merged.to) {
      const r = runs[i]!;
      if (r.from < merged.from) {
        merged.from = r.from;
        merged.firstWindow = r.firstWindow;
      } else if (r.from === merged.from) merged.firstWindow = Math.min(merged.firstWindow, r.firstWindow);
      if (r.to > merged.to) {
        merged.to = r.to;
        merged.lastWindow = r.lastWindow;
      } else if (r.to === merged.to) merged.lastWindow = Math.max(merged.lastWindow, r.lastWindow);
      i++;
    }
    runs.splice(lo, i - lo, merged);
  }

  addAll(other: WindowedRuns): void {
    for (const r of other.runs) this.add(r.from, r.to, r.firstWindow, r.lastWindow);
  }

  /** True when every seq in [from, to) is covered. */
  covers(from: number, to: number): boolean {
    return this.runs.some((r) => r.from <= from && r.to >= to);
  }

  /** Sub-ranges of [from, to) that are not covered. */
  uncovered(from: number, to: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let cursor = from;
    for (const r of this.runs) {
      if (r.to <= cursor) continue;
      if (r.from >= to) break;
      if (r.from > cursor) out.push([cursor, Math.min(r.from, to)]);
      cursor = Math.max(cursor, r.to);
      if (cursor >= to) break;
    }
    if (cursor < to) out.push([cursor, to]);
    return out;
  }

  /** Highest covered seq + 1, or 0. */
  end(): number {
    return this.runs.length === 0 ? 0 : this.runs[this.runs.length - 1]!.to;
  }

  /**
   * Gaps below `bound`, each with the windows its seqs could be in: receive times are non-decreasing
   * in seq, so a missing seq lies between the windows of its covered neighbours. `floorWindow` bounds
   * a gap with no lower neighbour (the publisher's start); `ceilingWindow` one with no upper neighbour
   * (the heartbeat that gave the bound).
   */
  gapsBelow(bound: number, floorWindow: number, ceilingWindow: number): Gap[] {
    const gaps: Gap[] = [];
    let cursor = 0;
    let lowWindow = floorWindow;
    for (const r of this.runs) {
      if (cursor >= bound) break;
      if (r.from > cursor) gaps.push({ from: cursor, to: Math.min(r.from, bound), lowWindow, highWindow: r.firstWindow });
      cursor = r.to;
      lowWindow = r.lastWindow;
    }
    if (cursor < bound) gaps.push({ from: cursor, to: bound, lowWindow, highWindow: ceilingWindow });
    return gaps;
  }
}
