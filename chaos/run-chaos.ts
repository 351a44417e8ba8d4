// The chaos suite: the whole local pipeline as processes, faults injected from a seed, then an audit by an independent reader that excuses nothing.
//
// Run: bash scripts/chaos.sh [--seed N] [--duration-s S] [--storage local|gcs] [--json] [--keep] …   (npm run chaos -- …)
//      node chaos/run-chaos.ts --help   lists every flag (chaos/chaos-options.ts).
//
// What runs: the Pub/Sub emulator (with its one-class fix, services/local-stack/pubsub-emulator.ts) behind
// loopback TCP proxies the suite can cut (one for publishers and the gateway, one for workers and checkers); the bucket as a local directory or as fake-gcs-server
// (chaos/chaos-bucket.ts); SDK publisher processes (chaos/publisher.ts) over every type, with seeded
// payloads; the gateway, fed by a client in this process that retries failed requests with the same
// event ids; two or more workers; one or two checkers. Every part is a real process
// (`node services/<part>/main.ts`) configured by environment, as deployed.
// What goes wrong (chaos/fault-plan.ts, from the seed): SIGKILL and restart of workers (at least
// --worker-kills of them, each while the worker holds unacked messages when it has any), checkers,
// publishers and the gateway; Pub/Sub unreachable; a worker's storage unreachable; duplicate
// deliveries; malformed messages; publishers whose clocks run behind and ahead. Throughout, 2% of
// checker 0's storage writes fail, half of them after landing (seeded too).
// Then the pipeline is healed, the load stops, and the run settles: every worker subscription drained
// and every window of the run closed (chaos/settle.ts). chaos/audit.py then reads the bucket with
// fastavro and checks every promise against what the publishers and the gateway client saw resolve.
// Exit code: 0 every promise kept, 1 a promise broken (the report says which), 2 the suite itself failed.
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveCheckerOptions } from '../services/checker/checker-options.ts';
import { startLocalStack, type LocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { topicNames } from '../services/wire/topics.ts';
import { ensurePythonVenv } from '../test/helpers/python.ts';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.ts';
import { openChaosBucket, stagedObjects, startStagingWitness, type ChaosBucket } from './chaos-bucket.ts';
import { parseChaosOptions, type ChaosOptions } from './chaos-options.ts';
import { describeFault, planFaults, prng, type Fault } from './fault-plan.ts';
import { GatewayClient, sendDuplicates, sendMalformed, Tap } from './injectors.ts';
import { REPO_ROOT, startProcess, type RunningProcess } from './processes.ts';
import { formatReport, type AuditReport, type ChaosReport } from './report.ts';
import { finalLeftover, openWindows, probeSubscriptions } from './settle.ts';
import { AnnouncementWitness, type AnnouncementVerdict } from './announcement-witness.ts';

export type { AuditReport, ChaosReport } from './report.ts';

/** The worker subscriptions' ack deadline in this suite (s): a killed worker's messages come back after it. */
const ACK_DEADLINE_S = 10;

/** Prints progress on stderr, stamped with seconds since the start. */
const t0 = Date.now();
const say = (msg: string) => process.stderr.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

interface Slot {
  proc: RunningProcess | undefined;
  generation: number;
  /** The worker's /metrics, when it serves one. */
  ops?: string;
  /** A kill of this worker is under way (another kill picks another worker). */
  targeted?: boolean;
  /** The process said it is up (a kill waits for that, so it never hits a process still starting). */
  ready?: boolean;
}

async function main(): Promise<number> {
  let o: ChaosOptions;
  try {
    o = parseChaosOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const runDir = o.dir ? path.resolve(o.dir) : await mkdtemp(path.join(os.tmpdir(), 'hg-chaos-'));
  const logs = path.join(runDir, 'logs');
  const files = {
    records: path.join(runDir, 'resolved.jsonl'),
    malformed: path.join(runDir, 'malformed.jsonl'),
    publishers: path.join(runDir, 'publishers.jsonl'),
    tapped: path.join(runDir, 'tapped.jsonl'),
    staged: path.join(runDir, 'staged-manifests'),
    leftover: path.join(runDir, 'leftover.jsonl'),
    audit: path.join(runDir, 'audit.json'),
  };
  await mkdir(logs, { recursive: true });
  for (const f of [files.records, files.malformed, files.publishers, files.leftover]) await writeFile(f, '');
  say(`seed ${o.seed}, ${o.storage} bucket, ${o.durationS} s, ${o.windowS}-s windows, ${o.publishers} publishers, ${o.workers} workers, ${o.checkers} checkers; run folder ${runDir}`);

  const registry = await Registry.load();
  const types = registry.names();
  const names = topicNames();
  const random = prng(o.seed ^ 0x5eed);
  const faults = planFaults(o.seed, { durationS: o.durationS, windowS: o.windowS, workers: o.workers, checkers: o.checkers, publishers: o.publishers, workerKills: o.workerKills })
    .filter((f) => o.faults === undefined || o.faults.includes(f.kind));
  for (const f of faults) say(`planned: ${describeFault(f)}`);

  let stack: LocalStack | undefined;
  let bucket: ChaosBucket | undefined;
  let proxy: TcpProxy | undefined;
  let subscriberProxy: TcpProxy | undefined;
  let tap: Tap | undefined;
  let witness: { stop(): Promise<void> } | undefined;
  // The gateway checks a named token, so its client's event ids are scoped by that name (the audit checks the scope).
  const gatewayAuth = { client: 'chaos-app', token: `chaos_gateway_token_${o.seed}` };
  const gatewayClient = new GatewayClient(files.records, types.filter((t) => t !== 'track_played'), gatewayAuth);
  const workers: Slot[] = Array.from({ length: o.workers }, () => ({ proc: undefined, generation: 0 }));
  const checkers: Slot[] = Array.from({ length: o.checkers }, () => ({ proc: undefined, generation: 0 }));
  const publishers: Slot[] = Array.from({ length: o.publishers }, () => ({ proc: undefined, generation: 0 }));
  const gateway: Slot = { proc: undefined, generation: 0 };
  const skewed: RunningProcess[] = [];
  const injected = new Map<string, number>();
  const count = (kind: string, n = 1) => injected.set(kind, (injected.get(kind) ?? 0) + n);
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>) => {
    const t = p.catch((err: unknown) => say(`fault handling failed: ${(err as Error).message}`)).finally(() => pending.delete(t));
    pending.add(t);
    return t;
  };
  const storageOutages = new Map<number, number>();
  let cuts = 0;
  let exitCode: number;
  let auditOut: AuditReport | undefined;
  let zombieStreams = -1;
  let announcements: AnnouncementVerdict | undefined;
  let witnessOfCloses: AnnouncementWitness | undefined;
  let settle: ChaosReport['settle'] = { settled: false, seconds: 0, outstanding: ['the run did not get that far'] };

  try {
    stack = await startLocalStack({ registry, ackDeadlineS: ACK_DEADLINE_S, logDir: logs });
    bucket = await openChaosBucket(o.storage, runDir, o.workers);
    const theBucket = bucket;
    proxy = await startTcpProxy(stack.pubsub.host);
    subscriberProxy = await startTcpProxy(stack.pubsub.host);
    tap = await Tap.open(stack.client, names, types, 300, files.tapped);
    witnessOfCloses = await AnnouncementWitness.open(stack.client, names);
    witness = startStagingWitness(bucket.storage, files.staged);
    // Publishers and the gateway reach Pub/Sub through one proxy, workers and checkers (streaming pull) through another.
    const env = { PUBSUB_EMULATOR_HOST: proxy.address, HOURGLASS_PROJECT: stack.pubsub.projectId, HOURGLASS_WINDOW_S: String(o.windowS), HOURGLASS_MODE: 'local' };
    const subscriberEnv = { ...env, PUBSUB_EMULATOR_HOST: subscriberProxy.address };

    const startWorker = async (i: number) => {
      const slot = workers[i]!;
      slot.ops = undefined; // known again once the new process says where it serves /metrics
      slot.ready = false;
      // A worker on a local view cannot open its storage during an outage (it exits): wait for the outage to end.
      for (let attempt = 0; ; attempt++) {
        while (theBucket.isFailing(i)) await sleep(0.2);
        const p = startProcess(`worker-${i}.${slot.generation++}`, 'services/worker/main.ts', [], {
          ...subscriberEnv,
          ...theBucket.workerEnv(i),
          HOURGLASS_WORKER_ID: `chaos-w${i}-g${slot.generation}`,
          HOURGLASS_OPS_PORT: '0',
        }, logs);
        slot.proc = p;
        try {
          const started = await p.line((l) => l.event === 'worker_started');
          slot.ops = typeof started.ops === 'string' ? started.ops : undefined;
          slot.ready = true;
          return;
        } catch (err) {
          if (attempt >= 5) throw err;
          say(`worker ${i} did not start (${(err as Error).message}); starting it again`);
        }
      }
    };
    const startChecker = async (i: number) => {
      const slot = checkers[i]!;
      const p = startProcess(`checker-${i}.${slot.generation++}`, 'services/checker/main.ts', [], {
        ...subscriberEnv,
        ...theBucket.env,
        HOURGLASS_CHECKER_ID: `chaos-checker-${i}`,
        HOURGLASS_LIVENESS_MS: String(o.livenessMs),
        HOURGLASS_MAX_WAIT_MS: String(o.maxWaitMs),
        HOURGLASS_CHECKER_TICK_MS: '300',
        // Small segments, so incremental compaction runs (and is killed) too.
        HOURGLASS_SEGMENT_BYTES: String(64 * 1024),
        // Staged files whose worker was killed before their manifest: removed soon, so staging empties within the
        // run; still twice the longest a worker takes from a file to its manifest (30 s deadline + a 14-s attempt).
        HOURGLASS_ORPHAN_AGE_S: '90',
        // Checker 0's writes fail now and then, some after they landed: every step must be redone safely. Seeded per incarnation.
        ...(i === 0 && o.checkerStorageFaults > 0
          ? { HOURGLASS_FAULTS_STORAGE_FAIL_RATE: String(o.checkerStorageFaults), HOURGLASS_FAULTS_STORAGE_FAIL_MODE: 'mixed', HOURGLASS_FAULTS_STORAGE_SEED: String((o.seed + slot.generation) >>> 0) }
          : {}),
      }, logs);
      slot.proc = p;
      slot.ready = false;
      await p.line((l) => l.msg === 'checker started' || l.event === 'checker_started');
      slot.ready = true;
    };
    const startGateway = async () => {
      gatewayClient.url = undefined;
      const p = startProcess(`gateway.${gateway.generation++}`, 'services/gateway/main.ts', [], { ...env, HOURGLASS_PORT: '0', HOURGLASS_HOST: '127.0.0.1', HOURGLASS_GATEWAY_TOKENS: `${gatewayAuth.client}:${gatewayAuth.token}` }, logs);
      gateway.proc = p;
      gateway.ready = false;
      const l = await p.line((x) => (x.message === 'gateway listening' || x.msg === 'gateway listening' || x.event === 'gateway_listening') && typeof x.url === 'string');
      gatewayClient.url = l.url as string;
      gateway.ready = true;
    };
    let skewedSlots = 0;
    const startPublisher = async (i: number, offsetS = 0, stopAfterS = o.durationS + 600): Promise<RunningProcess> => {
      const slot = publishers[i];
      // Payload draws differ per incarnation: slot numbers 0..N-1 for the first ones, then fresh ones.
      const payloadSlot = offsetS === 0 ? i + o.publishers * slot!.generation : 1000 + skewedSlots;
      const name = offsetS === 0 ? `publisher-${i}.${slot!.generation++}` : `publisher-skewed-${skewedSlots++}`;
      const p = startProcess(name, 'chaos/publisher.ts', [files.records, types.join(','), String(o.rate), String(o.windowS), String(offsetS), String(stopAfterS), String(o.seed), String(payloadSlot)], env, logs);
      if (offsetS === 0) {
        slot!.proc = p;
        slot!.ready = false;
      }
      const startedAtMs = Date.now();
      const ready = await p.line((l) => l.ready === true);
      if (offsetS === 0) slot!.ready = true;
      appendFileSync(files.publishers, `${JSON.stringify({ publisher: ready.publisher, startedAtMs, offsetS })}\n`);
      say(`${name} is ${String(ready.publisher)}`);
      return p;
    };

    await Promise.all([...workers.map((_, i) => startWorker(i)), ...checkers.map((_, i) => startChecker(i)), startGateway()]);
    const runFromUs = Date.now() * 1000;
    await Promise.all(publishers.map((_, i) => startPublisher(i)));
    say('pipeline running; faults begin');
    const runStart = Date.now();

    const malformedSerial = { n: 0 };
    const apply = async (f: Fault) => {
      say(`fault: ${describeFault(f)}`);
      switch (f.kind) {
        case 'kill-worker': {
          // The fault that matters: a worker killed while it holds messages it has not acked. If the planned
          // one is down (killed before, not back yet), another running worker is killed instead.
          const target = await runningWorker(workers, f.target!, 10);
          if (target === undefined) return say('  skipped: no worker is running');
          const slot = workers[target]!;
          slot.targeted = true;
          try {
            const held = await waitForHeldMessages(slot.ops, 5000);
            count('kill-worker');
            if (held > 0) count('kill-worker (messages in flight)');
            say(`  killing worker #${target}, which holds ${held} unacked messages`);
            await slot.proc!.kill();
            await sleep(f.restartAfterS!);
            await startWorker(target);
          } finally {
            slot.targeted = false;
          }
          return;
        }
        case 'kill-checker':
        case 'kill-publisher': {
          const slots = f.kind === 'kill-checker' ? checkers : publishers;
          const slot = slots[f.target!]!;
          if (!(await whenReady(slot, 15))) return say(`  skipped: ${f.kind} #${f.target} is not running`);
          count(f.kind);
          await slot.proc!.kill();
          await sleep(f.restartAfterS!);
          if (f.kind === 'kill-checker') await startChecker(f.target!);
          else await startPublisher(f.target!);
          return;
        }
        case 'kill-gateway':
          if (!(await whenReady(gateway, 15))) return say('  skipped: the gateway is not running');
          count(f.kind);
          gatewayClient.url = undefined;
          await gateway.proc!.kill();
          await sleep(f.restartAfterS!);
          await startGateway();
          return;
        case 'pubsub-cut':
          count(`pubsub-cut (${f.mode})`);
          cuts++;
          // Both sides at once, the same way: refused (connections reset, workers' streams die without a
          // half-close, which the fixed emulator honours: chaos/EMULATOR.md) or held, as in a partition.
          proxy!.cut(f.mode);
          subscriberProxy!.cut(f.mode!);
          await sleep(f.durationS!);
          if (--cuts === 0) {
            proxy!.restore();
            subscriberProxy!.restore();
          }
          return;
        case 'storage-fail': {
          count(f.kind);
          const i = f.target!;
          storageOutages.set(i, (storageOutages.get(i) ?? 0) + 1);
          await theBucket.failWorker(i);
          await sleep(f.durationS!);
          const left = storageOutages.get(i)! - 1;
          storageOutages.set(i, left);
          if (left === 0) await theBucket.healWorker(i);
          return;
        }
        case 'duplicates':
          count('duplicate messages', await sendDuplicates(stack!.client, names, tap!, types, f.count!, random));
          return;
        case 'malformed':
          count('malformed messages', await sendMalformed(stack!.client, names, tap!, types, o.windowS, f.count!, random, files.malformed, malformedSerial));
          return;
        case 'skewed-publisher':
          count(`skewed publisher (clock ${f.skewOffsetS! >= 0 ? 'ahead' : 'behind'})`);
          skewed.push(await startPublisher(0, f.skewOffsetS!, f.durationS!));
          return;
      }
    };
    const timers = faults.map((f) => setTimeout(() => void track(apply(f)), f.atS * 1000));
    const runId = o.seed.toString(36);
    const gatewayTimer = setInterval(() => gatewayClient.tick(o.gatewayBatch, runId), 200);
    await sleep(o.durationS);
    for (const t of timers) clearTimeout(t);
    clearInterval(gatewayTimer);
    say(`run over after ${((Date.now() - runStart) / 1000).toFixed(0)} s; waiting for faults in progress to end`);
    while (pending.size > 0) await Promise.allSettled([...pending]);

    // Heal, stop the load cleanly, and let the pipeline finish.
    proxy.restore();
    subscriberProxy.restore();
    for (let i = 0; i < o.workers; i++) await bucket.healWorker(i);
    for (const [i, slot] of workers.entries()) if (!slot.proc?.isRunning()) await startWorker(i);
    for (const [i, slot] of checkers.entries()) if (!slot.proc?.isRunning()) await startChecker(i);
    if (!gateway.proc?.isRunning()) await startGateway();
    say('healed; stopping publishers (final heartbeats) and draining the gateway client');
    await Promise.all([...publishers.map((s) => s.proc?.stop(90_000)), ...skewed.map((p) => p.stop(90_000))]);
    await gatewayClient.drain(Date.now() + 60_000);
    await gateway.proc?.stop(30_000);
    gatewayClient.close();
    const runToUs = Date.now() * 1000;

    settle = await settleRun(o, stack, bucket, types, runFromUs, runToUs);
    say(settle.settled ? `settled after ${settle.seconds} s: subscriptions drained, every window closed` : `NOT settled after ${settle.seconds} s: ${settle.outstanding.slice(0, 5).join('; ')}`);
    await Promise.all([...checkers, ...workers].map((s) => s.proc?.stop(30_000)));
    // The checkers' last events have been published (a stopping checker flushes its topic); the verdict waits for them.
    announcements = await witnessOfCloses.verdict(bucket.storage, types, runFromUs, runToUs);
    witnessOfCloses = undefined;
    if (announcements.missing.length + announcements.mismatched.length > 0) say(`closed-window events: ${[...announcements.missing, ...announcements.mismatched].slice(0, 5).join('; ')}`);
    await tap.close();
    tap = undefined;
    await witness.stop();
    witness = undefined;
    // Whatever is still in a subscription now is counted (the audit then fails "drained").
    const left = await finalLeftover(stack.client, names, types, (ACK_DEADLINE_S + 5) * 1000, files.leftover);
    if (left > 0) say(`${left} messages were still in the worker subscriptions after the services stopped`);
    // Every subscriber of the run has closed: a StreamingPull the emulator still serves is one it lost track of,
    // holding messages from every pull (chaos/EMULATOR.md). The verdict must not rest on the emulator's fix holding.
    zombieStreams = await settledZombies(stack);
    if (zombieStreams > 0) say(`the emulator still serves ${zombieStreams} StreamingPull streams nobody reads`);

    say('auditing with fastavro');
    const python = await ensurePythonVenv();
    const { stdout, code } = await runAudit(python, [
      ...bucket.auditArgs(),
      '--records', files.records, '--malformed', files.malformed, '--publishers', files.publishers,
      '--window-s', String(o.windowS), '--types', types.join(','), '--run-from-us', String(runFromUs), '--run-to-us', String(runToUs),
      // The margin the checkers closed by (they resolve it from this environment: the harness does not set it).
      '--discovery-margin-ms', String(resolveCheckerOptions(process.env).discoveryMarginMs),
      '--leftover', files.leftover, '--tapped', files.tapped, '--staged', files.staged, '--out', files.audit,
    ]);
    auditOut = JSON.parse(stdout) as AuditReport;
    const announced = announcements.missing.length === 0 && announcements.mismatched.length === 0;
    exitCode = code === 0 && settle.settled && zombieStreams === 0 && announced ? 0 : 1;
  } catch (err) {
    say(`the suite failed: ${(err as Error).stack ?? String(err)}`);
    exitCode = 2;
  } finally {
    for (const s of [...workers, ...checkers, ...publishers, gateway]) await s.proc?.kill();
    for (const p of skewed) await p.kill();
    await witness?.stop();
    await witnessOfCloses?.close();
    await tap?.close();
    await proxy?.close();
    await subscriberProxy?.close();
    await bucket?.close();
    await stack?.stop();
  }

  const report: ChaosReport = {
    seed: o.seed,
    storage: o.storage,
    durationS: o.durationS,
    windowS: o.windowS,
    processes: { publishers: o.publishers, workers: o.workers, checkers: o.checkers, gateway: 1 },
    faultsInjected: Object.fromEntries(injected),
    gatewayClient: { acceptedEvents: gatewayClient.accepted, failedRequests: gatewayClient.failedRequests, gaveUpEvents: gatewayClient.gaveUp },
    settle,
    emulatorZombieStreams: zombieStreams,
    announcements,
    audit: auditOut,
    runDir,
    result: exitCode === 0 ? 'every promise kept' : exitCode === 1 ? 'BROKEN PROMISES' : 'the suite failed',
  };
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : formatReport(report));
  if (exitCode === 0 && !o.keep && !o.dir) await rm(runDir, { recursive: true, force: true });
  else say(`kept ${runDir} (logs/, resolved.jsonl, publishers.jsonl, malformed.jsonl, leftover.jsonl, audit.json${o.storage === 'local' ? ', bucket/' : ''})`);
  return exitCode;
}

/**
 * Waits until the run has settled: every worker subscription drained (probes over more than the ack
 * deadline find nothing), staging empty and every window of the run closed; or until --settle-s.
 */
async function settleRun(o: ChaosOptions, stack: LocalStack, bucket: ChaosBucket, types: readonly string[], fromUs: number, toUs: number): Promise<ChaosReport['settle']> {
  const started = Date.now();
  const deadline = started + o.settleS * 1000;
  const quietNeededMs = 2 * ACK_DEADLINE_S * 1000;
  let quietSince: number | undefined;
  let outstanding: string[] = [];
  let lastSaidMs = 0;
  while (Date.now() < deadline) {
    const open = await openWindows(bucket.storage, types, o.windowS, fromUs, toUs);
    const staged = await stagedObjects(bucket.storage);
    const probed = await probeSubscriptions(stack.client, stack.names, types, 1500);
    outstanding = [
      ...[...probed].map(([type, n]) => `${n} messages in the ${type} subscription`),
      ...(staged > 0 ? [`${staged} objects in staging`] : []),
      ...(open.length > 0 ? [`${open.length} windows open, e.g. ${open.slice(0, 3).join(', ')}`] : []),
    ];
    // What the run still waits on, every 10 s: a run that does not settle says what held it, and since when.
    if (Date.now() - lastSaidMs >= 10_000) {
      lastSaidMs = Date.now();
      say(`  settling: ${outstanding.length > 0 ? outstanding.join('; ') : 'quiet'}`);
    }
    if (outstanding.length === 0) {
      quietSince ??= Date.now();
      if (Date.now() - quietSince >= quietNeededMs) return { settled: true, seconds: Math.round((Date.now() - started) / 1000), outstanding };
    } else quietSince = undefined;
    await sleep(1);
  }
  return { settled: false, seconds: Math.round((Date.now() - started) / 1000), outstanding };
}

/** Waits up to `withinS` for the slot's process to be up; false if it is not. */
async function whenReady(slot: Slot, withinS: number): Promise<boolean> {
  const until = Date.now() + withinS * 1000;
  while (!(slot.ready && slot.proc?.isRunning())) {
    if (Date.now() >= until) return false;
    await sleep(0.2);
  }
  return true;
}

/** The emulator's StreamingPull streams once every subscriber closed: 0 expected; a clean close may take a moment to reach it. */
async function settledZombies(stack: LocalStack): Promise<number> {
  const until = Date.now() + 15_000;
  for (;;) {
    const n = await stack.pubsub.streamingPullThreads();
    if (n === 0 || Date.now() >= until) return n;
    await sleep(0.5);
  }
}

/** The planned worker if it runs, else another running one; waits up to `withinS` for one to run. */
async function runningWorker(workers: readonly Slot[], planned: number, withinS: number): Promise<number | undefined> {
  const until = Date.now() + withinS * 1000;
  for (;;) {
    const order = [planned, ...workers.keys()];
    const found = order.find((i) => workers[i]!.proc?.isRunning() && workers[i]!.ops !== undefined && !workers[i]!.targeted);
    if (found !== undefined || Date.now() >= until) return found;
    await sleep(0.2);
  }
}

/** The worker's held (unacked) messages from its /metrics, polled until there are some or `withinMs` passes; 0 if it serves none. */
async function waitForHeldMessages(ops: string | undefined, withinMs: number): Promise<number> {
  if (ops === undefined) return 0;
  const until = Date.now() + withinMs;
  for (;;) {
    const text = await fetch(`${ops}/metrics`).then((r) => r.text()).catch(() => '');
    const m = /^hourglass_worker_held_messages(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(text);
    const held = m ? Number(m[1]) : 0;
    if (held > 0 || Date.now() >= until) return held;
    await sleep(0.05);
  }
}

async function runAudit(python: string, args: string[]): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await promisify(execFile)(python, [path.join(REPO_ROOT, 'chaos', 'audit.py'), ...args], { maxBuffer: 256 * 1024 * 1024 });
    return { stdout, code: 0 };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code === 1 && e.stdout) return { stdout: e.stdout, code: 1 };
    throw new Error(`audit failed to run: ${(err as Error).message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

process.exit(await main());
