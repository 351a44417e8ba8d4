// What one run of the emulator experiment shows: per message, whether it was processed, redelivered, left in the subscription or lost, and where it was when the fault struck.
//
// Vocabulary (the audit's): a message is *processed* once an application called ack() on it (a
// worker acks only after its write is durable). Pub/Sub owes every unprocessed message another
// delivery. *Missing for good* = never processed during the run and not found by the final drain.

/** One line of a subscriber's trace (see subscriber.ts). */
export interface TraceEvent {
  readonly t: number;
  readonly e: string;
  readonly n?: number;
  readonly a?: number | number[];
  /** Which subscriber process (0, 1, …) wrote it. */
  readonly gen: number;
}

export interface Fault {
  readonly kind: string;
  readonly atMs: number;
  readonly endMs: number;
}

export interface RunRecord {
  readonly startMs: number;
  readonly publishedAt: readonly number[];
  readonly faults: readonly Fault[];
  readonly events: readonly TraceEvent[];
  /** Message number → when the final drain pulled it (first time), and its ack id counter. */
  readonly drained: ReadonlyMap<number, { t: number; a: number }>;
  readonly drainStartMs: number;
  readonly drainEndMs: number;
  readonly pusherThreadsAfterSubscribers: number;
  readonly pusherThreadsAfterDrain: number;
  /** Leases (ack ids) the emulator granted on the experiment's subscription over the whole run. */
  readonly leasesGranted: number;
  /** NoSuchMethodErrors grpc-java hit closing calls (only with --grpc-log). */
  readonly callCloseFailures: number | undefined;
}

/** Where an unprocessed message was, last, before it went missing. */
export type MissingStage = 'dispatched-unacked' | 'in-client-buffer' | 'never-reached-a-client';

interface History {
  arrivals: Array<{ t: number; a: number; gen: number }>;
  dispatches: Array<{ t: number; a: number; gen: number }>;
  acks: Array<{ t: number; a: number; gen: number }>;
  nacks: number;
}

export function outcome(run: RunRecord) {
  const rel = (t: number) => t - run.startMs;
  const histories = run.publishedAt.map((): History => ({ arrivals: [], dispatches: [], acks: [], nacks: 0 }));
  const ackOk = new Set<number>();
  const ackIdsSeen = new Set<number>();
  for (const ev of run.events) {
    if (ev.e === 'ack-rpc-ok') for (const a of ev.a as number[]) ackOk.add(a);
    if (ev.n === undefined || typeof ev.a !== 'number') continue;
    const h = histories[ev.n];
    if (!h) continue;
    const entry = { t: ev.t, a: ev.a, gen: ev.gen };
    if (ev.e === 'arrive') {
      h.arrivals.push(entry);
      ackIdsSeen.add(ev.a);
    } else if (ev.e === 'dispatch') h.dispatches.push(entry);
    else if (ev.e === 'ack') h.acks.push(entry);
    else if (ev.e === 'nack') h.nacks++;
  }
  for (const d of run.drained.values()) ackIdsSeen.add(d.a);

  /** The fault a moment belongs to: the last one that started at or before it, else the first. */
  const faultFor = (t: number) => [...run.faults].reverse().find((f) => f.atMs <= t) ?? run.faults[0];
  const counts = { published: run.publishedAt.length, delivered: 0, processed: 0, ackConfirmed: 0, processedTwice: 0, redelivered: 0, nacked: 0, drained: 0, drainedUnprocessed: 0, missingForGood: 0 };
  const redeliveryCauses = { afterAck: 0, afterAckConfirmed: 0, withoutAck: 0 };
  const missing: Array<{ n: number; stage: MissingStage; publishedMs: number; msFromFault: number | undefined; fault: string | undefined; firstArrivalMs: number | undefined; deliveries: number }> = [];
  const drainDelaysMs: number[] = [];
  histories.forEach((h, n) => {
    const drained = run.drained.get(n);
    const processed = h.acks.length > 0;
    if (h.dispatches.length > 0) counts.delivered++;
    if (processed) counts.processed++;
    if (h.acks.some((x) => ackOk.has(x.a))) counts.ackConfirmed++;
    if (new Set(h.acks.map((x) => x.a)).size > 1) counts.processedTwice++;
    if (h.nacks > 0) counts.nacked++;
    const deliveries = new Set([...h.dispatches.map((d) => d.a), ...(drained ? [drained.a] : [])]);
    if (deliveries.size > 1) {
      counts.redelivered++;
      const firstAgainAt = Math.min(...[...h.dispatches.slice(1).map((d) => d.t), ...(drained && h.dispatches.length > 0 ? [drained.t] : [])]);
      const earlierAcks = h.acks.filter((x) => x.t < firstAgainAt);
      if (earlierAcks.length === 0) redeliveryCauses.withoutAck++;
      else if (earlierAcks.some((x) => ackOk.has(x.a))) redeliveryCauses.afterAckConfirmed++;
      else redeliveryCauses.afterAck++;
    }
    if (drained) {
      counts.drained++;
      if (!processed) {
        counts.drainedUnprocessed++;
        const fault = faultFor(drained.t);
        if (fault) drainDelaysMs.push(drained.t - fault.endMs);
      }
    }
    if (processed || drained) return;
    counts.missingForGood++;
    const stage: MissingStage = h.dispatches.length > 0 ? 'dispatched-unacked' : h.arrivals.length > 0 ? 'in-client-buffer' : 'never-reached-a-client';
    const firstArrival = h.arrivals[0]?.t;
    const reference = firstArrival ?? run.publishedAt[n]!;
    const fault = faultFor(reference);
    missing.push({
      n,
      stage,
      publishedMs: rel(run.publishedAt[n]!),
      fault: fault?.kind,
      msFromFault: fault ? reference - fault.atMs : undefined,
      firstArrivalMs: firstArrival === undefined ? undefined : rel(firstArrival),
      deliveries: new Set(h.arrivals.map((x) => x.a)).size,
    });
  });

  const byStage: Record<string, number> = {};
  for (const m of missing) {
    const key = m.stage === 'never-reached-a-client' ? `${m.stage} (published ${m.msFromFault! < 0 ? 'before' : 'after'} the fault)` : m.stage;
    byStage[key] = (byStage[key] ?? 0) + 1;
  }
  return {
    counts,
    redeliveryCauses,
    missingByStage: byStage,
    /** For missing messages that reached a client: ms from the fault's start to their first arrival. */
    missingArrivalFromFaultMs: spread(missing.filter((m) => m.firstArrivalMs !== undefined).map((m) => m.msFromFault!)),
    /** Unprocessed messages the final drain found: ms from the end of the fault before it to the drain pulling them. */
    drainedUnprocessedAfterFaultEndMs: spread(drainDelaysMs),
    drain: { startMs: rel(run.drainStartMs), endMs: rel(run.drainEndMs) },
    leasesGranted: run.leasesGranted,
    /** Leases the emulator granted that no client ever saw: messages written to streams nobody read. */
    leasesNoClientSaw: run.leasesGranted - ackIdsSeen.size,
    pusherThreadsAfterSubscribers: run.pusherThreadsAfterSubscribers,
    pusherThreadsAfterDrain: run.pusherThreadsAfterDrain,
    callCloseFailures: run.callCloseFailures,
    faults: run.faults.map((f) => ({ kind: f.kind, atMs: rel(f.atMs), endMs: rel(f.endMs) })),
    /** The first few missing messages in full. */
    missingSample: missing.slice(0, 10),
  };
}

export type Outcome = ReturnType<typeof outcome>;

export function spread(values: readonly number[]): { n: number; min?: number; median?: number; max?: number } {
  if (values.length === 0) return { n: 0 };
  const sorted = [...values].sort((x, y) => x - y);
  return { n: sorted.length, min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]! };
}
