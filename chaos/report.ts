// The chaos suite's report: what chaos/audit.py found, the faults injected, and the verdict, as JSON or as text for a person.
import type { AnnouncementVerdict } from './announcement-witness.ts';

/** What chaos/audit.py prints (the fields the report and the tests use). */
export interface AuditReport {
  readonly published_resolved: number;
  readonly published_sdk: number;
  readonly published_gateway: number;
  readonly delivered_closed: number;
  readonly late: number;
  readonly late_explained: Record<string, number>;
  readonly dead_lettered: number;
  readonly dead_letter_reasons: Record<string, number>;
  readonly malformed_sent: number;
  readonly duplicates_removed: number;
  readonly gateway_client_retries_across_windows: number;
  readonly duplicates_found: number;
  readonly lost: number;
  readonly in_subscription: number;
  readonly windows_closed: number;
  readonly windows_complete: number;
  readonly windows_incomplete: ReadonlyArray<Record<string, unknown>>;
  readonly windows_open: ReadonlyArray<Record<string, unknown>>;
  readonly lost_reported_by_manifests: number;
  readonly abandoned_reported_by_manifests: number;
  readonly close_delay_s: { readonly p50: number | null; readonly p99: number | null; readonly max: number | null };
  readonly staging_left: number;
  readonly messages_left_in_worker_subscriptions: number;
  readonly broken: Readonly<Record<string, readonly string[]>>;
}

export interface ChaosReport {
  readonly seed: number;
  readonly storage: 'local' | 'gcs';
  readonly durationS: number;
  readonly windowS: number;
  readonly processes: Record<string, number>;
  /** Faults carried out, by kind; "kill-worker (messages in flight)" counts the kills of a worker holding unacked messages. */
  readonly faultsInjected: Record<string, number>;
  readonly gatewayClient: Record<string, number>;
  /** How the run ended before the audit: settled (drained and closed), or what was still outstanding at the deadline. */
  readonly settle: { readonly settled: boolean; readonly seconds: number; readonly outstanding: string[] };
  /** StreamingPull streams the emulator still served after every subscriber closed (must be 0; -1: not checked). */
  readonly emulatorZombieStreams: number;
  /** What the suite's subscriber to the closed-windows topic saw, against the bucket (undefined: the run did not get that far). */
  readonly announcements: AnnouncementVerdict | undefined;
  readonly audit: AuditReport | undefined;
  readonly runDir: string;
  readonly result: string;
}

export function formatReport(r: ChaosReport): string {
  const a = r.audit;
  const lines = [
    `chaos report — seed ${r.seed}, ${r.storage} bucket, ${r.durationS} s, ${r.windowS}-s windows, ${Object.entries(r.processes).map(([k, v]) => `${v} ${k}`).join(', ')}`,
    `faults injected:      ${Object.entries(r.faultsInjected).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`,
    `emulator:             ${r.emulatorZombieStreams === 0 ? 'no stream left behind' : r.emulatorZombieStreams < 0 ? 'not checked' : `${r.emulatorZombieStreams} StreamingPull streams nobody reads (BROKEN: they hold messages)`}`,
    `announced:            ${r.announcements ? `${r.announcements.windowsAnnounced} windows of ${r.announcements.windowsClosed} closed, ${r.announcements.events} events (${r.announcements.duplicates} duplicates); ${r.announcements.missing.length} missing, ${r.announcements.mismatched.length} mismatched${[...r.announcements.missing, ...r.announcements.mismatched].slice(0, 3).map((x) => `\n    ${x}`).join('')}` : 'not checked'}`,
    `settled:              ${r.settle.settled ? `yes, ${r.settle.seconds} s after the load stopped` : `NO after ${r.settle.seconds} s: ${r.settle.outstanding.slice(0, 5).join('; ')}`}`,
  ];
  if (a) {
    const d = a.close_delay_s;
    lines.push(
      `events published:     ${a.published_resolved} resolved (SDK ${a.published_sdk}, gateway ${a.published_gateway}; gateway client gave up on ${r.gatewayClient.gaveUpEvents})`,
      `delivered:            ${a.delivered_closed} in closed windows`,
      `late:                 ${a.late} (explained: ${JSON.stringify(a.late_explained)})`,
      `dead-lettered:        ${a.dead_lettered} messages (${a.malformed_sent} malformed sent) ${JSON.stringify(a.dead_letter_reasons)}`,
      `duplicates removed:   ${a.duplicates_removed} at close; gateway client retries kept in other windows: ${a.gateway_client_retries_across_windows}`,
      `windows closed:       ${a.windows_closed} (${a.windows_complete} complete, ${a.windows_incomplete.length} incomplete); open: ${a.windows_open.length}; left in staging: ${a.staging_left}`,
      `close delay:          p50 ${fmt(d.p50)} s, p99 ${fmt(d.p99)} s, max ${fmt(d.max)} s`,
      `manifests report:     ${a.lost_reported_by_manifests} lost, ${a.abandoned_reported_by_manifests} abandoned`,
      `lost (resolved, nowhere): ${a.lost}; still in a subscription: ${a.in_subscription}; duplicates found: ${a.duplicates_found}`,
    );
    const broken = a.broken;
    if (Object.keys(broken).length === 0) lines.push('broken promises:      none');
    else for (const [kind, msgs] of Object.entries(broken)) lines.push(`BROKEN ${kind}:`, ...msgs.slice(0, 10).map((m) => `  - ${m}`));
  }
  lines.push(`result: ${r.result}`);
  return `${lines.join('\n')}\n`;
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : v.toFixed(1);
}
