// When does the Pub/Sub emulator drop a delivered, unacknowledged message? An experiment with no hourglass code in the path; chaos/EMULATOR.md holds its findings.
//
// Run: node chaos/emulator-redelivery.ts --mode MODE [options] [--out FILE]
// A publisher sends numbered messages straight to the emulator; a subscriber process
// (chaos/emulator/subscriber.ts: @google-cloud/pubsub streaming pull, or unary pull) holds each
// message --hold-ms before acking it, so a fault always finds messages delivered but unacked. Modes:
//   refuse      a TCP proxy between subscriber and emulator drops every connection and refuses new ones for --fault-s
//   blackhole   the proxy holds every byte both ways for --fault-s, then lets them through
//   reset       the proxy drops every connection once; new ones are accepted at once
//   kill        the subscriber process is SIGKILLed (the worker's real fault); a new one starts --fault-s later
//   kill-acking the subscriber acks all it holds and SIGKILLs itself --die-after-ms later (acks in flight)
//   close       the subscriber closes cleanly, nacking what it holds (--close-behavior wait: acking it)
// After the last fault the live subscriber keeps running --after-fault-s (two ack deadlines by
// default) and until quiet, then stops cleanly; --drain-after-s later a fresh unary pull drains what
// is left for up to --drain-s. --emulator patched runs the emulator with the one-class fix the local
// stack now runs by default (services/local-stack/pubsub-emulator-fix, see chaos/EMULATOR.md); --grpc-log counts the calls grpc-java failed to
// close (slow: it logs every HTTP/2 frame). Printed (JSON): the emulator's exact version,
// the configuration, and per run: published, delivered, processed (acked by the app), redelivered,
// left in the subscription, missing for good, where each missing message was when the fault struck,
// and the emulator's StreamingPull threads left once every subscriber had gone. Exit code 1 when
// any message went missing for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { PubSub } from '@google-cloud/pubsub';
import { emulatorClient } from '../services/local-stack/local-stack.ts';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.ts';
import { ackCounter, numberOf, payload, unaryClient } from './emulator/numbered-messages.ts';
import { emulatorVersion, startEmulatorUnderTest, type EmulatorKind, type EmulatorUnderTest } from './emulator/emulator-under-test.ts';
import { outcome, spread, type Fault, type Outcome, type TraceEvent } from './emulator/outcome.ts';

const MODES = ['refuse', 'blackhole', 'reset', 'kill', 'kill-acking', 'close'] as const;
type Mode = (typeof MODES)[number];
const NETWORK_MODES: readonly Mode[] = ['refuse', 'blackhole', 'reset'];
const SUBSCRIBER = path.join(import.meta.dirname, 'emulator', 'subscriber.ts');
const TOPIC = 'check';
const SUBSCRIPTION = 'check-sub';
/** A topic and subscription no fault touches, to read the emulator's ack id counter (one for all subscriptions, from 1) at the end. */
const PROBE_TOPIC = 'probe';
const PROBE_SUBSCRIPTION = 'probe-sub';

const { values: v } = parseArgs({
  options: {
    mode: { type: 'string' },
    runs: { type: 'string', default: '3' },
    messages: { type: 'string', default: '600' },
    'publish-s': { type: 'string', default: '8' },
    faults: { type: 'string', default: '1' },
    'fault-s': { type: 'string', default: '3' },
    restart: { type: 'string', default: 'yes' },
    'ack-deadline': { type: 'string', default: '10' },
    'max-messages': { type: 'string', default: '100' },
    'max-streams': { type: 'string', default: '1' },
    size: { type: 'string', default: '64' },
    'hold-ms': { type: 'string', default: '2000' },
    pull: { type: 'string', default: 'streaming' },
    'close-behavior': { type: 'string', default: 'nack' },
    'die-after-ms': { type: 'string', default: '0' },
    'stream-deadline-s': { type: 'string' },
    'after-fault-s': { type: 'string' },
    'quiet-s': { type: 'string', default: '4' },
    'settle-s': { type: 'string', default: '30' },
    'drain-after-s': { type: 'string', default: '0' },
    'drain-s': { type: 'string', default: '20' },
    'drain-poll-ms': { type: 'string', default: '100' },
    emulator: { type: 'string', default: 'stock' },
    'grpc-log': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
if (!MODES.includes(v.mode as Mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}`);
const config = {
  mode: v.mode as Mode,
  runs: Number(v.runs),
  messages: Number(v.messages),
  publishS: Number(v['publish-s']),
  faults: Number(v.faults),
  faultS: Number(v['fault-s']),
  restart: v.restart !== 'no',
  ackDeadlineS: Number(v['ack-deadline']),
  maxMessages: Number(v['max-messages']),
  maxStreams: Number(v['max-streams']),
  sizeBytes: Number(v.size),
  holdMs: Number(v['hold-ms']),
  pull: v.pull as 'streaming' | 'unary',
  closeBehavior: v['close-behavior'] as 'nack' | 'wait',
  dieAfterMs: Number(v['die-after-ms']),
  streamDeadlineS: v['stream-deadline-s'] === undefined ? undefined : Number(v['stream-deadline-s']),
  /** How long the (restarted) subscriber keeps running after the last fault, at least: two ack deadlines by default, so leases the fault left behind expire and are redelivered. */
  afterFaultS: v['after-fault-s'] === undefined ? 2 * Number(v['ack-deadline']) + 2 : Number(v['after-fault-s']),
  quietS: Number(v['quiet-s']),
  settleS: Number(v['settle-s']),
  drainAfterS: Number(v['drain-after-s']),
  drainS: Number(v['drain-s']),
  drainPollMs: Number(v['drain-poll-ms']),
  emulator: v.emulator as EmulatorKind,
  /** Logs the emulator's gRPC at FINE, to count the calls it failed to close (NoSuchMethodError). */
  grpcLog: v['grpc-log'],
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

const version = await emulatorVersion();
const runs: Outcome[] = [];
for (let i = 0; i < config.runs; i++) {
  say(`run ${i + 1}/${config.runs}: ${config.mode}`);
  const result = await runOnce();
  runs.push(result);
  say(`  ${JSON.stringify({ ...result.counts, missingByStage: result.missingByStage, leasesNoClientSaw: result.leasesNoClientSaw, pusherThreadsAfterSubscribers: result.pusherThreadsAfterSubscribers, pusherThreadsAfterDrain: result.pusherThreadsAfterDrain })}`);
}
const summary = {
  experiment: 'emulator-redelivery',
  command: `node chaos/emulator-redelivery.ts ${process.argv.slice(2).join(' ')}`,
  emulator: { ...version, kind: config.emulator },
  config,
  spread: {
    missingForGood: spread(runs.map((r) => r.counts.missingForGood)),
    drainedUnprocessed: spread(runs.map((r) => r.counts.drainedUnprocessed)),
    redelivered: spread(runs.map((r) => r.counts.redelivered)),
    leasesNoClientSaw: spread(runs.map((r) => r.leasesNoClientSaw)),
    pusherThreadsAfterSubscribers: spread(runs.map((r) => r.pusherThreadsAfterSubscribers)),
  },
  runs,
};
const json = `${JSON.stringify(summary, null, 2)}\n`;
if (v.out) {
  mkdirSync(path.dirname(v.out), { recursive: true });
  writeFileSync(v.out, json);
} else process.stdout.write(json);
process.exit(runs.some((r) => r.counts.missingForGood > 0) ? 1 : 0);

async function runOnce(): Promise<Outcome> {
  const emulator = await startEmulatorUnderTest(config.emulator, { grpcLog: config.grpcLog });
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'hg-redelivery-'));
  const admin = emulatorClient(emulator.host, emulator.projectId);
  let proxy: TcpProxy | undefined;
  const subscribers: Array<{ proc: ChildProcess; exited: Promise<void>; trace: string }> = [];
  try {
    await admin.createTopic(TOPIC);
    await admin.topic(TOPIC).createSubscription(SUBSCRIPTION, { ackDeadlineSeconds: config.ackDeadlineS });
    await admin.createTopic(PROBE_TOPIC);
    await admin.topic(PROBE_TOPIC).createSubscription(PROBE_SUBSCRIPTION);
    if (NETWORK_MODES.includes(config.mode)) proxy = await startTcpProxy(emulator.host);
    const subscriberHost = proxy?.address ?? emulator.host;
    const startSubscriber = () => {
      const trace = path.join(workDir, `trace-${subscribers.length}.jsonl`);
      writeFileSync(trace, '');
      const args = [
        SUBSCRIBER,
        ...['--host', subscriberHost, '--project', emulator.projectId, '--subscription', SUBSCRIPTION, '--trace', trace],
        ...['--pull', config.pull, '--max-messages', String(config.maxMessages), '--max-streams', String(config.maxStreams)],
        ...['--hold-ms', String(config.holdMs), '--close-behavior', config.closeBehavior, '--die-after-ms', String(config.dieAfterMs)],
        ...(config.streamDeadlineS === undefined ? [] : ['--stream-deadline-s', String(config.streamDeadlineS)]),
      ];
      const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      subscribers.push({ proc, trace, exited: new Promise((r) => proc.once('exit', () => r())) });
    };
    const current = () => subscribers[subscribers.length - 1]!;
    const readEvents = (): TraceEvent[] =>
      subscribers.flatMap((s, gen) =>
        existsSync(s.trace)
          ? readFileSync(s.trace, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((line) => ({ ...(JSON.parse(line) as Omit<TraceEvent, 'gen'>), gen }))
          : [],
      );

    startSubscriber();
    await waitForTrace(current().trace, '"e":"start"', 30_000);
    await sleep(1000); // its stream opens before anything is published
    const startMs = Date.now();
    const faults: Fault[] = [];
    const faultTimes = Array.from({ length: config.faults }, (_, i) => startMs + ((i + 1) * config.publishS * 1000) / (config.faults + 1));
    const faultsDone = (async () => {
      for (const at of faultTimes) {
        await sleep(Math.max(0, at - Date.now()));
        // A fault must find messages delivered and unacked: the current subscriber has dispatched one.
        await waitForTrace(current().trace, '"e":"dispatch"', 15_000);
        const fault = { kind: config.mode as string, atMs: Date.now(), endMs: 0 };
        faults.push(fault);
        await inject(current, startSubscriber, proxy);
        fault.endMs = Date.now();
      }
    })();

    const topic = admin.topic(TOPIC, { batching: { maxMessages: 1, maxMilliseconds: 1 } });
    const publishedAt: number[] = [];
    const perTick = Math.max(1, Math.ceil(config.messages / (config.publishS * 20)));
    while (publishedAt.length < config.messages) {
      const tickAt = Date.now();
      const batch = Array.from({ length: Math.min(perTick, config.messages - publishedAt.length) }, () => publishedAt.length).map((n, k) => n + k);
      for (const n of batch) publishedAt[n] = Date.now();
      await Promise.all(batch.map((n) => topic.publishMessage({ data: payload(n, config.sizeBytes) })));
      await sleep(Math.max(0, 50 - (Date.now() - tickAt)));
    }
    await faultsDone;

    // The live subscriber (if any) runs at least after-fault-s past the last fault, then until it has
    // dispatched nothing for quiet-s (at most settle-s more), then stops cleanly.
    const lastFaultEnd = Math.max(...faults.map((f) => f.endMs));
    await sleep(Math.max(0, lastFaultEnd + config.afterFaultS * 1000 - Date.now()));
    const settleUntil = Date.now() + config.settleS * 1000;
    let lastDispatch = Date.now();
    let seen = 0;
    while (Date.now() < settleUntil && Date.now() - lastDispatch < config.quietS * 1000) {
      await sleep(250);
      const dispatches = readEvents().filter((e) => e.e === 'dispatch').length;
      if (dispatches !== seen) [seen, lastDispatch] = [dispatches, Date.now()];
    }
    for (const s of subscribers) if (s.proc.exitCode === null && s.proc.signalCode === null) await stopCleanly(s);
    const pusherThreadsAfterSubscribers = await emulator.pusherThreads();

    await sleep(config.drainAfterS * 1000);
    const drainStartMs = Date.now();
    const processed = new Set(readEvents().filter((e) => e.e === 'ack').map((e) => e.n!));
    const drained = await drain(emulator, processed);
    const drainEndMs = Date.now();
    const pusherThreadsAfterDrain = await emulator.pusherThreads();
    const leasesGranted = (await probeAckIdCounter(emulator, admin)) - 1;
    const callCloseFailures = await emulator.callCloseFailures();
    return outcome({ startMs, publishedAt, faults, events: readEvents(), drained, drainStartMs, drainEndMs, pusherThreadsAfterSubscribers, pusherThreadsAfterDrain, leasesGranted, callCloseFailures });
  } finally {
    for (const s of subscribers) s.proc.kill('SIGKILL');
    await Promise.all(subscribers.map((s) => s.exited));
    await admin.close().catch(() => undefined);
    await proxy?.close();
    await emulator.stop();
    if (process.env.KEEP_TRACES) say(`  traces kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

async function inject(current: () => { proc: ChildProcess; exited: Promise<void>; trace: string }, startSubscriber: () => void, proxy: TcpProxy | undefined): Promise<void> {
  const restartLater = async () => {
    await sleep(config.faultS * 1000);
    if (config.restart) startSubscriber();
  };
  switch (config.mode) {
    case 'refuse':
    case 'blackhole':
      proxy!.cut(config.mode);
      await sleep(config.faultS * 1000);
      proxy!.restore();
      return;
    case 'reset':
      proxy!.cut('refuse');
      proxy!.restore();
      return;
    case 'kill':
      current().proc.kill('SIGKILL');
      await current().exited;
      return restartLater();
    case 'kill-acking':
      current().proc.kill('SIGUSR2');
      await current().exited;
      return restartLater();
    case 'close':
      current().proc.kill('SIGTERM');
      await current().exited;
      return restartLater();
  }
}

/** Waits (at most timeoutMs) until the trace file has a line containing `marker`. */
async function waitForTrace(trace: string, marker: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !(existsSync(trace) && readFileSync(trace, 'utf8').includes(marker))) await sleep(100);
}

async function stopCleanly(s: { proc: ChildProcess; exited: Promise<void> }): Promise<void> {
  s.proc.kill('SIGINT');
  const timeout = sleep(15_000).then(() => 'timeout');
  if ((await Promise.race([s.exited.then(() => 'exited'), timeout])) === 'timeout') {
    say('  the subscriber did not stop within 15 s of SIGINT: SIGKILL');
    s.proc.kill('SIGKILL');
    await s.exited;
  }
}

/** The emulator's next ack id: one message through the probe subscription, which only this pull reads. */
async function probeAckIdCounter(emulator: EmulatorUnderTest, admin: PubSub): Promise<number> {
  await admin.topic(PROBE_TOPIC).publishMessage({ data: Buffer.from('probe') });
  const client = unaryClient(emulator.host);
  try {
    const subscription = `projects/${emulator.projectId}/subscriptions/${PROBE_SUBSCRIPTION}`;
    const [res] = await client.pull({ subscription, maxMessages: 1, returnImmediately: false }, { timeout: 10_000 });
    const ackId = res.receivedMessages?.[0]?.ackId;
    if (!ackId) throw new Error('the probe message did not come back');
    await client.acknowledge({ subscription, ackIds: [ackId] });
    return ackCounter(ackId);
  } finally {
    await client.close();
  }
}

/** Pulls (unary, returnImmediately) and acks what is left, until every unprocessed message is found or drain-s passes. */
async function drain(emulator: EmulatorUnderTest, processed: ReadonlySet<number>): Promise<Map<number, { t: number; a: number }>> {
  const client = unaryClient(emulator.host);
  const subscription = `projects/${emulator.projectId}/subscriptions/${SUBSCRIPTION}`;
  const drained = new Map<number, { t: number; a: number }>();
  const outstanding = () => config.messages - [...Array(config.messages).keys()].filter((n) => processed.has(n) || drained.has(n)).length;
  const until = Date.now() + config.drainS * 1000;
  try {
    while (Date.now() < until && outstanding() > 0) {
      const [res] = await client.pull({ subscription, maxMessages: 100, returnImmediately: true });
      const received = res.receivedMessages ?? [];
      for (const r of received) {
        const n = numberOf(r.message!.data as Uint8Array);
        const a = ackCounter(r.ackId!);
        if (!drained.has(n)) drained.set(n, { t: Date.now(), a });
      }
      if (received.length > 0) await client.acknowledge({ subscription, ackIds: received.map((r) => r.ackId!) });
      else await sleep(config.drainPollMs);
    }
  } finally {
    await client.close();
  }
  return drained;
}
