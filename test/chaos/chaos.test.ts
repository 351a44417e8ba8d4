// The chaos suite, small: about a minute of the whole local pipeline under seeded faults, then the independent audit (chaos/run-chaos.ts).
//
// The full suite is `npm run chaos` (two minutes by default, any seed). This one fixes the seed so a
// failure here reproduces (same faults at the same offsets) with:
//   bash scripts/chaos.sh --seed 20261122 --duration-s 60 --rate 100 --checkers 2 --keep
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeFault, planFaults } from '../../chaos/fault-plan.ts';
import type { AuditReport } from '../../chaos/run-chaos.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SEED = 20261122;

interface ChaosReport {
  readonly faultsInjected: Record<string, number>;
  readonly audit?: AuditReport;
  readonly result: string;
  readonly runDir: string;
}

describe('chaos suite', () => {
  it('a seed names one plan of faults, with every kind in it, ending before the run does', () => {
    const sizes = { durationS: 60, windowS: 5, workers: 2, checkers: 2, publishers: 3 };
    const plan = planFaults(SEED, sizes);
    assert.deepEqual(planFaults(SEED, sizes), plan, 'same seed, same plan');
    assert.notDeepEqual(planFaults(SEED + 1, sizes), plan, 'another seed, another plan');
    const kinds = new Set(plan.map((f) => f.kind));
    for (const kind of ['kill-worker', 'kill-checker', 'kill-publisher', 'kill-gateway', 'pubsub-cut', 'storage-fail', 'duplicates', 'malformed', 'skewed-publisher']) {
      assert.ok(kinds.has(kind as never), `the plan has a ${kind} fault`);
    }
    for (const f of plan) {
      assert.ok(f.atS >= 4 && f.atS <= sizes.durationS - 4, describeFault(f));
      assert.ok(f.atS + (f.durationS ?? 0) + (f.restartAfterS ?? 0) <= sizes.durationS - 4 + 0.1, `${describeFault(f)} ends before the run does`);
    }
  });

  it('one minute of faults: every resolved event in exactly one closed window or the late area, dead letters exactly the malformed messages, no duplicates, manifests match their files, every window closed', async (t) => {
    // Two checkers, killed and restarted like the rest. Regression: two replicas moving two staged copies
    // of one message to the late area at the same moment used to write it twice (late files are now
    // named by message, create-only).
    const args = [path.join(REPO_ROOT, 'chaos/run-chaos.ts'), '--seed', String(SEED), '--duration-s', '60', '--window-s', '5', '--rate', '100', '--checkers', '2', '--json'];
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, METADATA_SERVER_DETECTION: 'none' }, maxBuffer: 64 * 1024 * 1024, timeout: 280_000 }, (err, out, errOut) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 2) : 0, stdout: out, stderr: errOut });
      });
    });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    assert.ok(line.startsWith('{'), `the suite printed its report (exit ${code}):\n${stderr.slice(-4000)}`);
    const report = JSON.parse(line) as ChaosReport;
    const a = report.audit;
    assert.ok(a, `the audit ran (exit ${code}):\n${stderr.slice(-4000)}`);
    // "lost in transport" is Pub/Sub not delivering what it acknowledged: the emulator strands messages
    // whose streaming-pull connection died (chaos/emulator-redelivery.ts shows it with no hourglass code).
    // Reported, not held against hourglass here; every other promise is.
    const { 'lost in transport': transport, ...broken } = a.broken;
    if (transport) t.diagnostic(`lost in transport (emulator): ${transport.join('; ')}`);
    assert.deepEqual(broken, {}, `broken promises (run folder ${report.runDir}):\n${JSON.stringify(a.broken, null, 2)}`);
    assert.ok(code === 0 || (code === 1 && transport !== undefined), stderr.slice(-4000));
    assert.equal(a.lost, 0);
    assert.equal(a.duplicates_found, 0);
    assert.equal(a.staging_left, 0);
    assert.ok(a.published_sdk > 0 && a.published_gateway > 0, 'events went through the SDK and the gateway');
    assert.equal(a.dead_lettered, a.malformed_sent);
    assert.ok(a.malformed_sent > 0, 'malformed messages were sent');
    assert.ok(a.windows_closed > 0);
    const injected = Object.keys(report.faultsInjected).join(' ');
    for (const kind of ['kill-worker', 'kill-checker', 'kill-publisher', 'pubsub-cut', 'storage-fail', 'duplicate messages', 'malformed messages', 'skewed publisher']) {
      assert.ok(injected.includes(kind), `a ${kind} fault was injected (${injected})`);
    }
  });
});
