// Each service, started with a bad value, refuses to start: it exits at once with every problem named (the variable, the value, what is allowed), before it connects to anything.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WINDOW = 'HOURGLASS_WINDOW_S="7" is refused: must be a whole number of seconds from 1 to 86400 that divides a day';
const SHUTDOWN = 'HOURGLASS_SHUTDOWN_TIMEOUT_MS="soon" is refused: must be an integer from 1 to 3600000 (ms)';

interface Case {
  readonly service: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly code: number;
  /** Every fragment the output must hold. */
  readonly names: readonly string[];
}

const CASES: readonly Case[] = [
  { service: 'gateway', args: ['services/gateway/main.ts'], env: { HOURGLASS_MODE: 'local', HOURGLASS_WINDOW_S: '7', HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon', HOURGLASS_PORT: '70000' }, code: 2, names: [WINDOW, SHUTDOWN, 'HOURGLASS_PORT="70000" is refused: must be an integer from 0 to 65535'] },
  { service: 'worker', args: ['services/worker/main.ts'], env: { HOURGLASS_WINDOW_S: '7', HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon', HOURGLASS_WORKER_CODEC: 'bzip2' }, code: 2, names: [WINDOW, SHUTDOWN, 'HOURGLASS_WORKER_CODEC="bzip2" is refused: must be one of null, deflate, zstandard, snappy'] },
  { service: 'checker', args: ['services/checker/main.ts'], env: { HOURGLASS_WINDOW_S: '7', HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon', HOURGLASS_ANNOUNCE_CLOSED: 'maybe' }, code: 2, names: [WINDOW, SHUTDOWN, 'HOURGLASS_ANNOUNCE_CLOSED="maybe" is refused: must be true or false'] },
  { service: 'table committer', args: ['services/table/main.ts'], env: { HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon', HOURGLASS_TABLE_NAMESPACE: 'my-ns', HOURGLASS_TABLE_FAULT: 'sometimes' }, code: 2, names: [SHUTDOWN, 'HOURGLASS_TABLE_NAMESPACE="my-ns" is refused', 'HOURGLASS_TABLE_FAULT="sometimes" is refused: must be one of none, kill-before-commit'] },
  { service: 'console', args: ['services/console/main.ts'], env: { HOURGLASS_WINDOW_S: '7', HOURGLASS_CONSOLE_PORT: '-5' }, code: 2, names: [WINDOW, 'HOURGLASS_CONSOLE_PORT="-5" is refused: must be an integer from 0 to 65535'] },
  { service: 'cli', args: ['bin/hourglass-events.ts', 'status'], env: { HOURGLASS_WINDOW_S: '7' }, code: 2, names: [WINDOW] },
  { service: 'npm start', args: ['services/local-run/run-local.ts', '--workers', '40'], env: { HOURGLASS_WINDOW_S: '7' }, code: 2, names: [WINDOW, '--workers="40" is refused: must be an integer from 1 to 16'] },
];

function run(c: Case): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // A clean environment: only what the case sets (and PATH), so nothing of the test runner's leaks in.
    const env = { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', ...c.env };
    execFile(process.execPath, c.args, { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: `${stdout}\n${stderr}` });
    });
  });
}

describe('every service refuses a bad configuration before it starts', () => {
  for (const c of CASES) {
    it(`${c.service}: exit ${c.code}, naming ${c.names.length} problem(s) with variable, value and range`, async () => {
      const { code, out } = await run(c);
      assert.equal(code, c.code, out);
      for (const fragment of c.names) assert.ok(out.includes(fragment) || out.includes(JSON.stringify(fragment).slice(1, -1)), `names ${fragment}:\n${out}`);
      if (c.service !== 'cli' && c.service !== 'npm start') {
        const line = out.split('\n').find((l) => /config_invalid"/.test(l));
        assert.ok(line, `one config_invalid line:\n${out}`);
        const parsed = JSON.parse(line) as { severity: string; problems: string[] };
        assert.equal(parsed.severity, 'ERROR');
        assert.ok(parsed.problems.length >= c.names.length);
      }
    });
  }
});
