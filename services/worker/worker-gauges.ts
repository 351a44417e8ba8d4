// The worker process's gauges (meter "hourglass-worker"): its backlog (messages held, writes in flight) and its memory; read at each collection.
//
// Buffered bytes, the other half of the backlog, is observed by the counters themselves (worker-stats.ts).
import { metrics, type BatchObservableCallback, type Observable } from '@opentelemetry/api';
import type { WorkerStats } from './worker-stats.ts';

export interface WorkerGauges {
  /** Stops observing; idempotent. */
  close(): void;
}

/** Observes `stats()` and this process's memory (or `memory()`, for tests) until close(). */
export function observeWorker(stats: () => WorkerStats, memory: () => NodeJS.MemoryUsage = () => process.memoryUsage()): WorkerGauges {
  const meter = metrics.getMeter('hourglass-worker');
  const held = meter.createObservableGauge('hourglass.worker.held_messages', { description: 'Messages received and not yet acked or nacked (in open staging files, being written, or dead-lettered)' });
  const writes = meter.createObservableGauge('hourglass.worker.writes_in_flight', { description: 'Staging files and dead letters being written' });
  const rss = meter.createObservableGauge('hourglass.worker.memory.rss', { description: 'Resident set size of the worker process', unit: 'By' });
  const heapUsed = meter.createObservableGauge('hourglass.worker.memory.heap_used', { description: 'V8 heap in use by the worker process', unit: 'By' });
  const heapTotal = meter.createObservableGauge('hourglass.worker.memory.heap_total', { description: 'V8 heap reserved by the worker process', unit: 'By' });
  const external = meter.createObservableGauge('hourglass.worker.memory.external', { description: 'Memory held outside the V8 heap (Buffers, among others)', unit: 'By' });
  const observables: Observable[] = [held, writes, rss, heapUsed, heapTotal, external];
  const observe: BatchObservableCallback = (r) => {
    const s = stats();
    r.observe(held, s.heldMessages);
    r.observe(writes, s.writesInFlight);
    const m = memory();
    r.observe(rss, m.rss);
    r.observe(heapUsed, m.heapUsed);
    r.observe(heapTotal, m.heapTotal);
    r.observe(external, m.external);
  };
  meter.addBatchObservableCallback(observe, observables);
  let closed = false;
  return {
    close: () => {
      if (closed) return;
      closed = true;
      meter.removeBatchObservableCallback(observe, observables);
    },
  };
}
