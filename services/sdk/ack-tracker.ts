// Tracks, per type, the seq below which every event was acknowledged by Pub/Sub (or failed and was reported).
//
// Batches finish out of order; the mark only advances over a prefix that is entirely settled, so a
// heartbeat's ackedBelow is a promise: every seq below it is in Pub/Sub, or listed as failed.

interface Range {
  readonly first: number;
  readonly end: number;
  state: 'pending' | 'acked' | 'failed';
}

/** How many failed ranges a publisher remembers and reports (per type); older ones age out. */
export const MAX_FAILED_RANGES = 1000;

export class AckTracker {
  readonly #ranges = new Map<string, Range[]>();
  readonly #ackedBelow = new Map<string, number>();
  readonly #failed = new Map<string, Array<[number, number]>>();

  /** Registers a batch [first, first+count) about to be sent; batches of a type begin in seq order. */
  begin(type: string, first: number, count: number): void {
    let list = this.#ranges.get(type);
    if (!list) this.#ranges.set(type, (list = []));
    list.push({ first, end: first + count, state: 'pending' });
    if (!this.#ackedBelow.has(type)) this.#ackedBelow.set(type, first);
  }

  settle(type: string, first: number, ok: boolean): void {
    const list = this.#ranges.get(type);
    const range = list?.find((r) => r.first === first);
    if (!list || !range) return;
    range.state = ok ? 'acked' : 'failed';
    if (!ok) {
      let failed = this.#failed.get(type);
      if (!failed) this.#failed.set(type, (failed = []));
      failed.push([range.first, range.end]);
      if (failed.length > MAX_FAILED_RANGES) failed.shift();
    }
    while (list.length > 0 && list[0]!.state !== 'pending') {
      this.#ackedBelow.set(type, list.shift()!.end);
    }
  }

  /** Every seq of `type` below this was acknowledged, or is among failedRanges(type). */
  ackedBelow(type: string): number {
    return this.#ackedBelow.get(type) ?? 0;
  }

  failedRanges(type: string): ReadonlyArray<readonly [number, number]> {
    return this.#failed.get(type) ?? [];
  }

  /** Events sent and not yet settled, per type (types with none left out). */
  pendingEvents(): Map<string, number> {
    const pending = new Map<string, number>();
    for (const [type, list] of this.#ranges) {
      let n = 0;
      for (const r of list) if (r.state === 'pending') n += r.end - r.first;
      if (n > 0) pending.set(type, n);
    }
    return pending;
  }
}
