// Bounds the memory that work running at once may hold: each task reserves the bytes it may buffer before it starts.
//
// The checker works on many types at once (their closes wait on bucket requests, not on CPU), but a close or a
// compaction of a large window buffers up to a part in memory. Each reserves what it may hold (its staged bytes,
// at most a part), so a thousand small windows close at once and a few large ones take turns. A task asking for
// more than the whole budget reserves all of it and runs alone. Tasks start in the order they asked (first in,
// first out: a large task is never overtaken for ever by small ones); a task must not wait on another's reservation.
//
// Written here, not taken from async-mutex: its weighted Semaphore walks every unit of its value on each release
// (a loop over 2^31 for a budget of 8 parts of 256 MiB counted in bytes), and a budget counted in bytes needs O(1).

interface Waiter {
  readonly bytes: number;
  readonly start: () => void;
}

export class MemoryBudget {
  readonly #bytes: number;
  #free: number;
  #peak = 0;
  readonly #queue: Waiter[] = [];
  #head = 0;

  constructor(bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`memory budget must be a positive whole number of bytes, not ${bytes}`);
    this.#bytes = bytes;
    this.#free = bytes;
  }

  /** Runs `task` once `bytes` (at least 1, at most the budget) are free, and frees them when it settles. */
  async run<T>(bytes: number, task: () => Promise<T>): Promise<T> {
    const reserved = Math.min(this.#bytes, Math.max(1, Math.ceil(bytes)));
    if (this.#head < this.#queue.length || reserved > this.#free) {
      await new Promise<void>((start) => this.#queue.push({ bytes: reserved, start }));
    } else {
      this.#take(reserved);
    }
    try {
      return await task();
    } finally {
      this.#free += reserved;
      this.#startWaiting();
    }
  }

  /** Bytes reserved now, and the most reserved at once so far. */
  usage(): { reserved: number; peak: number; budget: number } {
    return { reserved: this.#bytes - this.#free, peak: this.#peak, budget: this.#bytes };
  }

  #take(bytes: number): void {
    this.#free -= bytes;
    this.#peak = Math.max(this.#peak, this.#bytes - this.#free);
  }

  /** Starts waiting tasks in order while the first one fits. */
  #startWaiting(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.bytes <= this.#free) {
      const waiter = this.#queue[this.#head++]!;
      this.#take(waiter.bytes);
      waiter.start();
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
  }
}
