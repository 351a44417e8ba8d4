// The local run's supervisor: backoff delays, restarts of a real child process that exits, the reset after a healthy run, and no restart once shut down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { restartDelayMs, SupervisedService, type RestartPolicy } from '../../services/local-run/supervisor.ts';

const HOUR_MS = 3_600_000;

/** A supervised `node -e <script>`, its log lines, and a way to wait for a number of them. */
function supervise(script: string, policy: RestartPolicy, nowMs?: () => number) {
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  const service: SupervisedService = new SupervisedService({
    name: 'svc',
    policy,
    spawn: () => spawn(process.execPath, ['-e', script], { stdio: 'ignore' }),
    nowMs,
    log: (l) => {
      lines.push(l);
      for (const w of waiters.splice(0)) w();
    },
  });
  // Whatever an assertion does, nothing this test started outlives it.
  after(async () => {
    service.shutdown();
    service.signal('SIGKILL');
    await service.exited();
  });
  const linesMatching = async (re: RegExp, n: number): Promise<string[]> => {
    while (lines.filter((l) => re.test(l)).length < n) await new Promise<void>((r) => waiters.push(r));
    return lines.filter((l) => re.test(l)).slice(0, n);
  };
  return { service, lines, linesMatching };
}

describe('restart backoff', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    const policy: RestartPolicy = { initialDelayMs: 500, factor: 2, maxDelayMs: 30_000, healthyAfterMs: 60_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => restartDelayMs(policy, n)), [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('never shrinks as restarts pile up, and never passes the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 2000 }), (initial, factor, cap, n) => {
        const policy = { initialDelayMs: initial, factor, maxDelayMs: cap, healthyAfterMs: 0 };
        const [a, b] = [restartDelayMs(policy, n), restartDelayMs(policy, n + 1)];
        return a <= b && b <= cap && restartDelayMs(policy, 1) === Math.min(initial, cap);
      }),
      { seed: 20261202 },
    );
  });
});

describe('supervised service', () => {
  it('restarts a process that keeps exiting, with growing delays and a line per exit and restart', async () => {
    const { service, linesMatching } = supervise('process.exit(3)', { initialDelayMs: 100, factor: 2, maxDelayMs: 400, healthyAfterMs: HOUR_MS });
    service.start();
    const exits = await linesMatching(/exited unexpectedly/, 4);
    service.shutdown();
    await service.exited();
    assert.deepEqual(
      exits.map((l) => l.replace(/after [\d.]+ s/, 'after T s')),
      [1, 2, 3, 4].map((n) => `svc exited unexpectedly (exit code 3) after T s; restart ${n} in ${['0.1', '0.2', '0.4', '0.4'][n - 1]} s`),
    );
    const restarted = await linesMatching(/^restarted svc /, 3);
    assert.match(restarted[2]!, /^restarted svc \(pid \d+, restart 3\)$/);
  });

  it('names the signal that ended the process, and starts from the initial delay again after a healthy run', async () => {
    let clockMs = 0; // how long each process "ran" is up to the test, not to the machine's load
    const { service, linesMatching } = supervise('setInterval(() => {}, 1000)', { initialDelayMs: 100, factor: 2, maxDelayMs: 10_000, healthyAfterMs: 60_000 }, () => clockMs);
    service.start();
    // Two short runs (the delay doubles), then one that ran past healthyAfterMs (back to the initial delay).
    const ranMs = [0, 0, 60_000];
    for (const [i, ran] of ranMs.entries()) {
      await linesMatching(/^(started|restarted) svc /, i + 1);
      clockMs += ran;
      const pid = service.pid;
      assert.ok(pid !== undefined, 'a process is running');
      process.kill(pid, 'SIGKILL');
      await linesMatching(/exited unexpectedly/, i + 1);
    }
    const exits = await linesMatching(/exited unexpectedly/, 3);
    assert.deepEqual(exits, [
      'svc exited unexpectedly (signal SIGKILL) after 0.0 s; restart 1 in 0.1 s',
      'svc exited unexpectedly (signal SIGKILL) after 0.0 s; restart 2 in 0.2 s',
      'svc exited unexpectedly (signal SIGKILL) after 60.0 s; restart 3 in 0.1 s',
    ]);
    await linesMatching(/^restarted svc .*restart 3\)$/, 1);
    service.shutdown();
    service.signal('SIGTERM');
    await service.exited();
    assert.equal(service.pid, undefined);
  });

  it('restarts nothing once shut down: not the process that exits then, nor one already waiting', async () => {
    const { service, lines, linesMatching } = supervise('setInterval(() => {}, 1000)', { initialDelayMs: 200, factor: 2, maxDelayMs: 1000, healthyAfterMs: HOUR_MS });
    service.start();
    service.shutdown();
    service.signal('SIGTERM');
    await service.exited();
    assert.deepEqual(lines.filter((l) => !l.startsWith('started')), [], 'an expected exit is not reported as unexpected');

    const waiting = supervise('process.exit(1)', { initialDelayMs: 200, factor: 2, maxDelayMs: 1000, healthyAfterMs: HOUR_MS });
    waiting.service.start();
    await waiting.linesMatching(/exited unexpectedly/, 1); // a restart is now pending (200 ms)
    waiting.service.shutdown();
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(waiting.lines.filter((l) => l.startsWith('restarted')), [], 'the pending restart was cancelled');
    await linesMatching(/^started/, 1);
  });
});
