// The scale benchmark's figures from its settings' runs: close delay spread, checker CPU and bucket requests per round per replica, cores by role, the 3-vs-1-replica ratios, and the audit's must-be-0 counts.
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../services/sdk/publisher-options.ts';
import { auditFigures } from '../kit/closed-audit.ts';
import { mustBeZero, requireZeros, type BenchResult } from '../kit/results.ts';
import { quantileCaveat, round, spread } from '../kit/stats.ts';
import type { CheckerSample } from './checker-sample.ts';
import type { SettingRun } from './setting-run.ts';

export interface ScaleSettings {
  readonly types: number;
  readonly publishers: number;
  readonly fleetProcesses: number;
  readonly typesPerPublisher: number;
  readonly publisherEps: number;
  /** The publishers' periodic heartbeat (ms); undefined: the SDK's default. */
  readonly heartbeatIntervalMs?: number | undefined;
  readonly workers: number;
  readonly windowS: number;
  readonly windows: number;
  /** Staged notices on (a slot per replica). */
  readonly notices: boolean;
}

/** The name suffix of a setting: none for 3 replicas (the headline), `_1_replica`, `_<r>_replicas`. */
const suffixOf = (replicas: number) => (replicas === 3 ? '' : replicas === 1 ? '_1_replica' : `_${replicas}_replicas`);

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Per replica: CPU s per round, requests of each kind per round; then the mean over the replicas. */
function perRound(samples: readonly CheckerSample[]): { cpuS: number; rounds: number; requests: Record<string, number> | undefined } {
  // No round finished in the span: no figure rather than a made-up one.
  const cpu = samples.map((s) => (s.rounds > 0 ? s.cpuS / s.rounds : NaN));
  const exported = samples.every((s) => s.requests !== undefined);
  const kinds = exported ? [...new Set(samples.flatMap((s) => Object.keys(s.requests!)))].sort() : [];
  const requests = exported ? Object.fromEntries(kinds.map((k) => [k, mean(samples.map((s) => (s.rounds > 0 ? (s.requests![k] ?? 0) / s.rounds : NaN)))])) : undefined;
  return { cpuS: mean(cpu), rounds: mean(samples.map((s) => s.rounds)), requests };
}

export function scaleFigures(runs: readonly SettingRun[], o: ScaleSettings): BenchResult[] {
  const results: BenchResult[] = [
    { name: 'scale_types', value: o.types, unit: `event types (synthetic copies of search_performed), ${o.windowS}-s windows, staged notices ${o.notices ? 'on (a slot per replica, as Terraform deploys them)' : 'off (each replica lists its types every round)'}` },
    { name: 'scale_publishers', value: o.publishers, unit: `SDK publisher identities in ${o.fleetProcesses} processes, ${o.typesPerPublisher} types each at ${o.publisherEps} event/s per publisher (${Math.round(o.publishers * o.publisherEps)} events/s in all), heartbeats every ${(o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS) / 1000} s${o.heartbeatIntervalMs ? '' : ' (the SDK default)'}; ${o.workers} worker process(es)` },
  ];
  const notes: string[] = [];
  const byReplicas = new Map(runs.map((r) => [r.replicas, r]));
  for (const r of runs) {
    const sfx = suffixOf(r.replicas);
    const who = `${r.replicas} checker replica${r.replicas === 1 ? '' : 's'}`;
    const d = spread(r.delaysS);
    const p = spread(r.proofDelaysS);
    const pr = perRound(r.perReplica);
    results.push(
      { name: `scale_close_delay_p50${sfx}_s`, value: round(d.p50, 2), unit: `s, window end → closed manifest (closeDelayMs), over ${d.n} (type, window) closes, ${who}${quantileCaveat(0.5, d.n)}` },
      { name: `scale_close_delay_p99${sfx}_s`, value: round(d.p99, 2), unit: `s, same closes (p90 ${round(d.p90, 2)}, min ${round(d.min, 2)}, max ${round(d.max, 2)})${quantileCaveat(0.99, d.n)}` },
      { name: `scale_proof_delay_p99${sfx}_s`, value: round(p.p99, 2), unit: `s of the close delay until the close rule held (proofDelayMs; p50 ${round(p.p50, 2)})` },
      { name: `scale_windows_closed${sfx}`, value: r.delaysS.length, unit: `(type, window) closes measured: ${r.measuredWindows} consecutive loaded windows × ${o.types} types, ${who}${r.measuredWindows < 20 ? ' (fewer than the 20 windows a setting should measure)' : ''}` },
      { name: `scale_checker_cpu_s_per_round${sfx}`, value: round(pr.cpuS, 4), unit: `CPU s per round per replica (/proc utime+stime over hourglass_checker_round_duration count; mean over ${r.replicas}; ${Math.round(pr.rounds)} rounds each in the measured span)` },
      { name: `scale_checker_cores${sfx}`, value: round(r.cores.checkers!, 2), unit: `cores used by the ${who} together over the measured span` },
      { name: `scale_cpu_cores_emulator${sfx}`, value: round(r.cores.emulator!, 2), unit: 'cores used by the Pub/Sub emulator (java) over the measured span' },
      { name: `scale_cpu_cores_workers${sfx}`, value: round(r.cores.workers!, 2), unit: `cores used by the ${o.workers} worker process(es)` },
      { name: `scale_cpu_cores_publishers${sfx}`, value: round(r.cores.publishers!, 2), unit: `cores used by the ${o.fleetProcesses} publisher processes` },
      { name: `scale_cpu_cores_bench${sfx}`, value: round(r.cores.bench!, 2), unit: 'cores used by the benchmark process itself' },
      { name: `scale_events${sfx}`, value: r.events, unit: `events acknowledged to the publishers (${round(r.audit.lateEvents, 0)} of them found in late/)` },
      { name: `scale_late_events${sfx}`, value: r.audit.lateEvents, unit: 'events read back from late/ (delivered, but after their window closed)' },
      { name: `scale_provision_s${sfx}`, value: round(r.provisionS, 1), unit: `s to provision ${o.types} topics + subscriptions (in parallel chunks); removal took ${round(r.removeS, 1)} s` },
      { name: `scale_ready_s${sfx}`, value: round(r.readyS, 1), unit: `s from starting the publisher processes to all ${o.publishers} publishers registered (first heartbeat acknowledged)` },
      { name: `scale_setting_wall_s${sfx}`, value: Math.round(r.wallS), unit: 's of wall time of the whole setting (provisioning to audit and removal)' },
    );
    if (pr.requests) {
      for (const [kind, n] of Object.entries(pr.requests)) results.push({ name: `scale_storage_${kind}_per_round${sfx}`, value: round(n, 1), unit: `bucket ${kind} requests per round per replica (hourglass_checker_storage_requests_total; mean over ${r.replicas})` });
    }
    results.push({ name: `scale_checker_storage_metric${sfx}`, value: pr.requests ? 1 : 0, unit: pr.requests ? '1: the checker exports hourglass_checker_storage_requests' : '0: hourglass_checker_storage_requests is not on the checker\'s /metrics; no request figures' });
    results.push(
      mustBeZero(`scale_failed_events${sfx}`, r.failedEvents, 'events whose publish failed'),
      mustBeZero(`scale_unclosed_windows${sfx}`, r.unclosedMeasured + r.unclosedEnded, '(type, window) pairs that ended before the stop and had not closed after the drain'),
      ...auditFigures(`scale${sfx}`, r.audit),
    );
    if (r.failedEvents > 0) notes.push(`${who}: ${r.failedEvents} publishes failed; the audit takes seqs [0, acknowledged) of each stream as the acknowledged ones, which holds only without failures, so its missing and unexpected counts include the failed publishes' seqs`);
    if (r.note) notes.push(r.note);
    notes.push(...r.audit.problems.map((p) => `${who}: ${p}`));
  }
  const one = byReplicas.get(1);
  const three = byReplicas.get(3);
  if (one && three) {
    const a = perRound(three.perReplica);
    const b = perRound(one.perReplica);
    results.push({ name: 'scale_checker_cpu_per_round_3_vs_1', value: round(a.cpuS / b.cpuS, 2), unit: 'x (CPU per round of one of 3 replicas / of a lone checker; 1/3 would be a perfect share)' });
    results.push({ name: 'scale_checker_cores_3_vs_1', value: round(three.cores.checkers! / one.cores.checkers!, 2), unit: 'x (cores of the 3 replicas together / of a lone checker)' });
    if (a.requests && b.requests) {
      const total = (x: Record<string, number>) => Object.values(x).reduce((s, v) => s + v, 0);
      results.push({ name: 'scale_storage_requests_per_round_3_vs_1', value: round(total(a.requests) / total(b.requests), 2), unit: `x (bucket requests per round of one of 3 replicas / of a lone checker: ${round(total(a.requests), 1)} / ${round(total(b.requests), 1)})` });
    }
  }
  return requireZeros(results, notes);
}
