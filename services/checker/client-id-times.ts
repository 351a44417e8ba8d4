// Client event ids kept so far, each with the receive times of its kept copies: the question de-duplication asks of them.
//
// Ids are held as digests (client-id-chunks.ts), so the memory per id does not depend on how long
// the client made it. An id usually has one kept copy; it has several only when its copies came more
// than the horizon apart (then each is a distinct event), and all of them count: a new copy is a
// duplicate when it is within the horizon of any of them, not only of the newest.
export class ClientIdTimes {
  readonly #times = new Map<string, number | number[]>();

  get size(): number {
    return this.#times.size;
  }

  add(key: string, receivedUs: number): void {
    const known = this.#times.get(key);
    if (known === undefined) this.#times.set(key, receivedUs);
    else if (typeof known === 'number') {
      if (known !== receivedUs) this.#times.set(key, [known, receivedUs]);
    } else if (!known.includes(receivedUs)) known.push(receivedUs);
  }

  /** True when a kept copy of `key` was received at most `horizonUs` from `receivedUs`. */
  within(key: string, receivedUs: number, horizonUs: number): boolean {
    const known = this.#times.get(key);
    if (known === undefined) return false;
    if (typeof known === 'number') return Math.abs(known - receivedUs) <= horizonUs;
    return known.some((t) => Math.abs(t - receivedUs) <= horizonUs);
  }

  has(key: string): boolean {
    return this.#times.has(key);
  }
}
