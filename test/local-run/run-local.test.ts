// The local run (`npm start`, services/local-run/run-local.ts) as a child process: a worker SIGKILLed with acknowledged
// events it had not staged is restarted, the emulator and the other services stay up, the pipeline keeps going, and every
// event acknowledged before the kill ends up in a closed window. Then SIGTERM stops everything, the emulator included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { hasCode } from '../../services/errors/catalogue.ts';
import { emulatorClient } from '../../services/local-stack/local-stack.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX } from '../../services/storage/staging-manifest.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = path.join(REPO_ROOT, 'node_modules/.bin/node');
const WINDOW_S = 2;
/** A cap so a broken run ends; nothing is asserted about time. Redelivery of what the dead worker held waits out ack deadlines. */
const WAIT_MS = 240_000;
const BEFORE_KILL = 400;
const AFTER_RESTART = 200;

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local run: a service that dies is restarted, nothing acknowledged is lost', () => {
  it('SIGKILL of the worker with unstaged events: restarted with a log line, emulator and other services untouched, every event in a closed window', async (t) => {
    const dir = await tempDir('hg-run-local-');
    const storage = await LocalDirectoryStorage.open(dir);
    const run = spawn(NODE, ['services/local-run/run-local.ts', '--window-s', String(WINDOW_S), '--port', '0', '--console-port', '0', '--ops-port', '0', '--location', `file://${dir}`], {
      cwd: REPO_ROOT,
      // The worker holds a staging file open 3 s: the events acknowledged just before the kill are certainly not staged yet.
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none', HOURGLASS_WORKER_MAX_FILE_AGE_MS: '3000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    run.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));
    after(async () => {
      if (run.exitCode !== null || run.signalCode !== null) return;
      run.kill('SIGTERM');
      const timer = setTimeout(() => run.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    });
    const lines: string[] = [];
    createInterface({ input: run.stdout }).on('line', (l) => lines.push(l));
    /** Polls `probe` until it holds; fails at once when the run exits, and after WAIT_MS. */
    const until = async (what: string, probe: () => Promise<boolean> | boolean): Promise<void> => {
      for (const deadline = Date.now() + WAIT_MS; !(await probe()); await new Promise((r) => setTimeout(r, 100))) {
        if (run.exitCode !== null) throw new Error(`waiting for ${what}: the run exited (${run.exitCode}); stderr:\n${stderr}\nstdout:\n${lines.join('\n')}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; stdout:\n${lines.join('\n')}`);
      }
    };
    /** The first line matching `re` (also one already seen). */
    const line = async (re: RegExp, what: string): Promise<RegExpExecArray> => {
      let found: RegExpExecArray | undefined;
      await until(what, () => (found = lines.map((l) => re.exec(l)).find((m) => m !== null) ?? undefined) !== undefined);
      return found!;
    };
    const pidOf = async (name: string) => Number((await line(new RegExp(`^hourglass: started ${name} \\(pid (\\d+)\\)$`), `${name} started`))[1]);

    const host = (await line(/PUBSUB_EMULATOR_HOST=(\S+);/, 'the run banner'))[1]!;
    const pids = { gateway: await pidOf('gateway'), worker: await pidOf('worker-0'), checker: await pidOf('checker'), console: await pidOf('console') };
    await line(/^\[worker-0\] info worker_started /, 'the worker pulling');
    await line(/^\[checker\] info checker_started /, 'the checker running');

    const registry = await Registry.load();
    const pubsub = emulatorClient(host, 'hourglass-local');
    after(() => pubsub.close());
    const publisher = new Publisher({ registry, pubsub, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 50 });
    const publish = async (from: number, count: number) => {
      const pending: Array<Promise<void>> = [];
      for (let i = from; i < from + count; i++) pending.push(publisher.publish('track_played', trackPlayed(i)));
      await Promise.all(pending); // every one acknowledged by Pub/Sub
    };
    await publish(0, BEFORE_KILL);

    process.kill(pids.worker, 'SIGKILL');
    await waitUntil('the killed worker gone', async () => !alive(pids.worker), 10_000, 20);
    // What was staged or closed when the worker died (a dead worker stages nothing more): the rest of the
    // acknowledged events was only in Pub/Sub, or in the dead worker's memory.
    const seen = await seqsStagedOrClosed(storage, publisher.id);
    const unstaged = Array.from({ length: BEFORE_KILL }, (_, s) => s).filter((s) => !seen.has(s));
    assert.ok(unstaged.length > 0, 'the kill must catch acknowledged events that no worker had staged');
    t.diagnostic(`${unstaged.length} of ${BEFORE_KILL} acknowledged events not staged when the worker was killed`);

    const exit = await line(/^hourglass: worker-0 exited unexpectedly \(signal SIGKILL\) after [\d.]+ s; restart 1 in ([\d.]+) s$/, 'the exit line');
    assert.ok(Number(exit[1]) > 0, 'a restart waits a backoff');
    const restartedPid = Number((await line(/^hourglass: restarted worker-0 \(pid (\d+), restart 1\)$/, 'the restart line'))[1]);
    assert.notEqual(restartedPid, pids.worker);
    await until('the restarted worker pulling', () => lines.filter((l) => /^\[worker-0\] info worker_started /.test(l)).length === 2);

    // The pipeline goes on: events published after the restart are delivered too.
    await publish(BEFORE_KILL, AFTER_RESTART);
    await publisher.close(); // the final heartbeat bounds every window
    const total = BEFORE_KILL + AFTER_RESTART;
    let closed: ClosedManifest[] = [];
    await until(`all ${total} events in closed windows`, async () => {
      closed = await closedManifests(storage, 'track_played');
      return closed.flatMap((m) => m.publishers).filter((p) => p.publisher === publisher.id).reduce((n, p) => n + p.events, 0) >= total;
    });
    const ranges = closed.flatMap((m) => m.publishers).filter((p) => p.publisher === publisher.id).flatMap((p) => p.ranges);
    const delivered = ranges.flatMap(([from, to]) => Array.from({ length: to - from }, (_, k) => from + k)).sort((a, b) => a - b);
    assert.deepEqual(delivered, Array.from({ length: total }, (_, s) => s), 'every acknowledged seq exactly once in a closed window');
    for (const m of closed) assert.equal(m.lostEvents, 0, `window ${m.windowStart} lost events`);
    assert.deepEqual(await storage.list('late/'), [], 'nothing in the late area');
    assert.deepEqual(await storage.list('deadletter/'), [], 'nothing dead-lettered');

    // Only the worker was restarted; the emulator and every other service kept running.
    assert.deepEqual(lines.filter((l) => /exited unexpectedly/.test(l)).length, 1, lines.filter((l) => /^hourglass: /.test(l)).join('\n'));
    for (const name of ['gateway', 'checker', 'console'] as const) assert.ok(alive(pids[name]), `${name} (pid ${pids[name]}) still running`);
    assert.ok((await fetch(`http://${host}/`)).ok, 'the emulator still answers');

    t.diagnostic(lines.filter((l) => /^hourglass: (worker|restarted)/.test(l)).join('\n'));
    run.kill('SIGTERM');
    assert.equal(await exited, 0, `exit code after SIGTERM; stderr:\n${stderr}`);
    for (const pid of [pids.gateway, restartedPid, pids.checker, pids.console]) assert.equal(alive(pid), false, `pid ${pid} still running after the run stopped`);
    await assert.rejects(fetch(`http://${host}/`), 'the emulator stopped with the run');
  });
});

/** Seqs of `publisher` that a staging manifest or a closed window lists. */
async function seqsStagedOrClosed(storage: LocalDirectoryStorage, publisher: string): Promise<Set<number>> {
  const out = new Set<number>();
  const add = (from: number, to: number) => {
    for (let s = from; s < to; s++) out.add(s);
  };
  for (const o of await storage.list('staging/')) {
    if (!o.key.endsWith(STAGING_MANIFEST_SUFFIX)) continue;
    // Gone since the listing: its window closed, and the closed manifests read below list it.
    const bytes = await storage.get(o.key).catch((err: unknown) => (hasCode(err, 'HG_STORAGE_NOT_FOUND') ? undefined : Promise.reject(err)));
    if (bytes) for (const m of parseStagingManifest(o.key, bytes).messages) if (m.publisher === publisher) add(m.firstSeq, m.firstSeq + m.count);
  }
  for (const m of await closedManifests(storage, 'track_played')) for (const p of m.publishers) if (p.publisher === publisher) for (const [from, to] of p.ranges) add(from, to);
  return out;
}

/** Every committed _MANIFEST.json of a type's closed windows. */
async function closedManifests(storage: LocalDirectoryStorage, type: string): Promise<ClosedManifest[]> {
  const keys = (await storage.list(`${type}/`)).map((o) => o.key).filter((k) => k.endsWith('/_MANIFEST.json'));
  return Promise.all(keys.map(async (k) => JSON.parse((await storage.get(k)).toString('utf8')) as ClosedManifest));
}
