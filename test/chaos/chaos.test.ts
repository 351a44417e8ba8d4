// The chaos suite, small: about a minute of the whole pipeline under seeded faults, on a local directory and on fake-gcs-server, then the independent audit (chaos/run-chaos.ts).
//
// The full suite is `npm run chaos` (two minutes by default, any seed). These runs fix the seed so a
// failure reproduces (same faults at the same offsets) with:
//   bash scripts/chaos.sh --seed 20261122 --duration-s 60 --rate 100 --storage local --keep
//   bash scripts/chaos.sh --seed 20261203 --duration-s 60 --rate 100 --storage gcs --keep
// Nothing is excused: a missing event, a window left open, a subscription not drained, a late event
// its window's proof cannot explain — each fails the run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeFault, planFaults } from '../../chaos/fault-plan.ts';
import type { ChaosReport } from '../../chaos/report.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKER_KILLS = 5;

/** Every kind of fault a run must have carried out, as the report counts them. */
const INJECTED_KINDS = [
  'kill-worker (messages in flight)',
  'kill-checker',
  'kill-publisher',
  'kill-gateway',
  'pubsub-cut',
  'storage-fail',
  'duplicate messages',
  'malformed messages',
  'skewed publisher (clock behind)',
  'skewed publisher (clock ahead)',
];

async function runChaos(seed: number, storage: 'local' | 'gcs'): Promise<{ code: number; report: ChaosReport; stderr: string }> {
  const args = [path.join(REPO_ROOT, 'chaos/run-chaos.ts'), '--seed', String(seed), '--duration-s', '60', '--window-s', '5', '--rate', '100', '--checkers', '2', '--storage', storage, '--worker-kills', String(WORKER_KILLS), '--json'];
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, METADATA_SERVER_DETECTION: 'none' }, maxBuffer: 64 * 1024 * 1024, timeout: 450_000 /* under the test's own 480 s: no run outlives its test */ }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 2) : 0, stdout: out, stderr: errOut });
    });
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `the suite printed its report (exit ${code}):\n${stderr.slice(-4000)}`);
  return { code, report: JSON.parse(line) as ChaosReport, stderr };
}

function assertEveryPromiseKept({ code, report, stderr }: { code: number; report: ChaosReport; stderr: string }): void {
  const a = report.audit;
  assert.ok(a, `the audit ran (exit ${code}):\n${stderr.slice(-4000)}`);
  // Compact, one line per promise, and nothing printed after it (CI keeps the tail of the output): which promise broke, and how.
  const broken = Object.entries(a.broken).map(([promise, what]) => `${promise}: ${JSON.stringify(what).slice(0, 600)}`);
  if (broken.length > 0) assert.fail(`broken promises, seed ${report.seed} on ${report.storage} (run folder ${report.runDir}):\n${broken.join('\n')}`);
  assert.ok(report.settle.settled, `the run settled: ${report.settle.outstanding.join('; ')}`);
  assert.equal(report.emulatorZombieStreams, 0, 'the emulator serves no stream whose subscriber is gone (chaos/EMULATOR.md)');
  // Every closed window of the run was announced on the closed-windows topic, each event matching its manifest.
  const n = report.announcements;
  assert.ok(n, 'the closed-window events were checked');
  assert.deepEqual([...n.missing, ...n.mismatched], [], 'closed-window events');
  assert.ok(n.windowsAnnounced > 0);
  assert.equal(code, 0, stderr.slice(-4000));
  assert.equal(a.lost, 0);
  assert.equal(a.in_subscription, 0);
  assert.equal(a.messages_left_in_worker_subscriptions, 0);
  assert.equal(a.duplicates_found, 0);
  assert.equal(a.staging_left, 0);
  assert.equal(a.windows_open.length, 0);
  assert.ok(a.published_sdk > 0 && a.published_gateway > 0, 'events went through the SDK and the gateway');
  assert.equal(a.dead_lettered, a.malformed_sent);
  assert.ok(a.malformed_sent > 0, 'malformed messages were sent');
  assert.ok(a.windows_closed > 0);
  const injected = report.faultsInjected;
  const names = Object.keys(injected);
  for (const kind of INJECTED_KINDS) assert.ok(names.some((n) => n.startsWith(kind)), `a ${kind} fault was injected (${JSON.stringify(injected)})`);
  assert.ok((injected['kill-worker (messages in flight)'] ?? 0) >= WORKER_KILLS, `at least ${WORKER_KILLS} workers were killed holding unacked messages (${JSON.stringify(injected)})`);
}

describe('chaos suite', () => {
  it('a seed names one plan of faults, with every kind in it (clocks behind and ahead, enough worker kills), ending before the run does', () => {
    const sizes = { durationS: 60, windowS: 5, workers: 2, checkers: 2, publishers: 3, workerKills: WORKER_KILLS };
    const plan = planFaults(20261122, sizes);
    assert.deepEqual(planFaults(20261122, sizes), plan, 'same seed, same plan');
    assert.notDeepEqual(planFaults(20261123, sizes), plan, 'another seed, another plan');
    const kinds = new Set(plan.map((f) => f.kind));
    for (const kind of ['kill-worker', 'kill-checker', 'kill-publisher', 'kill-gateway', 'pubsub-cut', 'storage-fail', 'duplicates', 'malformed', 'skewed-publisher']) {
      assert.ok(kinds.has(kind as never), `the plan has a ${kind} fault`);
    }
    assert.ok(plan.filter((f) => f.kind === 'kill-worker').length >= WORKER_KILLS, 'enough worker kills');
    const skews = plan.filter((f) => f.kind === 'skewed-publisher').map((f) => f.skewOffsetS!);
    assert.ok(skews.some((s) => s < 0) && skews.some((s) => s > 0), `a clock behind and a clock ahead: ${skews.join(', ')}`);
    for (const f of plan) {
      assert.ok(f.atS >= 4 && f.atS <= sizes.durationS - 4, describeFault(f));
      assert.ok(f.atS + (f.durationS ?? 0) + (f.restartAfterS ?? 0) <= sizes.durationS - 4 + 0.1, `${describeFault(f)} ends before the run does`);
    }
  });

  it('one minute of faults on a local directory: every resolved event in exactly one closed window or the late area, nothing excused', async () => {
    assertEveryPromiseKept(await runChaos(20261122, 'local'));
  });

  it('one minute of faults on fake-gcs-server (preconditions, generations, server-side copies, paged listings): the same promises', async () => {
    assertEveryPromiseKept(await runChaos(20261203, 'gcs'));
  });
});
