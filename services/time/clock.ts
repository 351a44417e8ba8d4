// The clock behind an interface, so tests can drive time; and the non-decreasing stamp every publisher uses.

export interface Clock {
  /** Wall-clock time, UTC microseconds. */
  nowUs(): number;
}

export const systemClock: Clock = {
  nowUs: () => Math.floor((performance.timeOrigin + performance.now()) * 1000),
};

/**
 * Stamps that never go backwards, even if the wall clock does (NTP steps): receive times are
 * non-decreasing per publisher, which is what lets a heartbeat bound a window.
 */
export class MonotonicStamper {
  readonly #clock: Clock;
  #last = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  stamp(): number {
    const now = this.#clock.nowUs();
    if (now > this.#last) this.#last = now;
    return this.#last;
  }
}
