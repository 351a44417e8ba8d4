// What a checker process has spent so far: CPU seconds (from /proc), rounds and bucket requests by kind (from its Prometheus /metrics), and the difference of two such samples.
import { cpuSeconds } from '../kit/child-process.ts';

export interface CheckerSample {
  readonly cpuS: number;
  readonly rounds: number;
  /** Bucket requests by kind; undefined when the checker does not export hourglass_checker_storage_requests. */
  readonly requests: Readonly<Record<string, number>> | undefined;
}

const ROUNDS = /^hourglass_checker_round_duration(?:_seconds)?_count(?:\{[^}]*\})? ([0-9.e+]+)$/;
const REQUESTS = /^hourglass_checker_storage_requests(?:_total)?\{([^}]*)\} ([0-9.e+]+)$/;

/** Parses the round count and the storage request counters out of a Prometheus text page (every series summed). */
export function parseCheckerMetrics(text: string): { rounds: number | undefined; requests: Record<string, number> | undefined } {
  let rounds: number | undefined;
  let requests: Record<string, number> | undefined;
  for (const line of text.split('\n')) {
    const r = ROUNDS.exec(line);
    if (r) rounds = (rounds ?? 0) + Number(r[1]);
    const q = REQUESTS.exec(line);
    if (q) {
      const kind = /(?:^|,)kind="([^"]*)"/.exec(q[1]!)?.[1] ?? 'unknown';
      requests ??= {};
      requests[kind] = (requests[kind] ?? 0) + Number(q[2]);
    }
  }
  return { rounds, requests };
}

export async function sampleChecker(pid: number, opsUrl: string): Promise<CheckerSample> {
  const cpuS = await cpuSeconds(pid);
  const res = await fetch(`${opsUrl}/metrics`);
  if (!res.ok) throw new Error(`${opsUrl}/metrics answered ${res.status}`);
  const { rounds, requests } = parseCheckerMetrics(await res.text());
  // The histogram appears with the first round's end: before it, no round has finished.
  return { cpuS, rounds: rounds ?? 0, requests };
}

/** What was spent between two samples of one checker. */
export function sampleDelta(from: CheckerSample, to: CheckerSample): CheckerSample {
  const requests = from.requests && to.requests ? Object.fromEntries(Object.entries(to.requests).map(([k, v]) => [k, v - (from.requests![k] ?? 0)])) : to.requests;
  return { cpuS: to.cpuS - from.cpuS, rounds: to.rounds - from.rounds, requests };
}
