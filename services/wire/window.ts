// Time windows: an event belongs to window floor(receive_time / length). Times are UTC microseconds.

export const MICROS_PER_SECOND = 1_000_000;

/** The window an event received at `receiveTimeUs` falls in. */
export function windowOf(receiveTimeUs: number, windowLengthS: number): number {
  return Math.floor(receiveTimeUs / (windowLengthS * MICROS_PER_SECOND));
}

/** First microsecond of window `index`. */
export function windowStartUs(index: number, windowLengthS: number): number {
  return index * windowLengthS * MICROS_PER_SECOND;
}

/** First microsecond after window `index`. */
export function windowEndUs(index: number, windowLengthS: number): number {
  return (index + 1) * windowLengthS * MICROS_PER_SECOND;
}

/** Throws unless `lengthS` divides a day evenly into whole seconds (so windows align with hours and dates). */
export function assertWindowLength(lengthS: number): void {
  if (!Number.isInteger(lengthS) || lengthS <= 0 || 86_400 % lengthS !== 0) {
    throw new Error(`window length ${lengthS}s must be a whole number of seconds that divides a day (e.g. 3600, 60, 10)`);
  }
}
