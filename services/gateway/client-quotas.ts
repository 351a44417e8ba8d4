// Rate quotas per client: a token bucket for events and one for bytes, so one noisy client is refused (429) without slowing the others.
//
// Each bucket holds at most `rate × burstS` and refills at `rate` per second. A request is let in
// while neither of its client's buckets is below zero, and is then charged its real size, which may
// take a bucket below zero: a request larger than the burst is not refused forever, it makes its
// client wait until the debt is repaid. So over any interval T a client gets at most
// rate × (T + burstS) plus one request. The check happens before the body is read (a client in debt
// costs the gateway almost nothing); the charge after it is parsed. Buckets live per client name,
// so a client's keys share them and a reloaded quota applies to the bucket it already has.
import type { Quota } from './client-keys.ts';

export interface QuotaVerdict {
  readonly ok: boolean;
  /** When not ok: whole seconds until neither bucket is below zero (at least 1). */
  readonly retryAfterS: number;
}

interface Bucket {
  events: number;
  bytes: number;
  atMs: number;
}

export class ClientQuotas {
  readonly #buckets = new Map<string, Bucket>();
  readonly #nowMs: () => number;

  constructor(nowMs: () => number = () => performance.now()) {
    this.#nowMs = nowMs;
  }

  /** Whether `client` may send a request now. */
  check(client: string, quota: Quota): QuotaVerdict {
    const b = this.#refilled(client, quota);
    if (b.events >= 0 && b.bytes >= 0) return { ok: true, retryAfterS: 0 };
    const waitS = Math.max(-b.events / quota.eventsPerS, -b.bytes / quota.bytesPerS);
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(waitS)) };
  }

  /** Charges an accepted request of `events` events and `bytes` bytes to `client`. */
  charge(client: string, quota: Quota, events: number, bytes: number): void {
    const b = this.#refilled(client, quota);
    b.events -= events;
    b.bytes -= bytes;
  }

  /** Forgets clients that are no longer configured (after a reload). */
  retain(clients: ReadonlySet<string>): void {
    for (const client of this.#buckets.keys()) if (!clients.has(client)) this.#buckets.delete(client);
  }

  #refilled(client: string, quota: Quota): Bucket {
    const now = this.#nowMs();
    const capEvents = quota.eventsPerS * quota.burstS;
    const capBytes = quota.bytesPerS * quota.burstS;
    let b = this.#buckets.get(client);
    if (!b) {
      b = { events: capEvents, bytes: capBytes, atMs: now };
      this.#buckets.set(client, b);
      return b;
    }
    const elapsedS = Math.max(0, now - b.atMs) / 1000;
    b.events = Math.min(capEvents, b.events + elapsedS * quota.eventsPerS);
    b.bytes = Math.min(capBytes, b.bytes + elapsedS * quota.bytesPerS);
    b.atMs = now;
    return b;
  }
}
