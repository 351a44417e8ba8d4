// Does the Pub/Sub emulator redeliver what a subscriber lost when its connection was cut? A check with no hourglass code in the path.
//
// Run: node chaos/emulator-redelivery.ts [--seconds 40] [--cuts 2] [--cut-s 3] [--mode refuse|blackhole|kill] [--quiet-s 10]
//   kill: the subscriber is a child process, SIGKILLed at each "cut" and started again cut-s later.
// A publisher sends numbered messages straight to the emulator; a plain streaming-pull subscriber
// (@google-cloud/pubsub, ack on receipt) reads them through a loopback TCP proxy that is cut a few
// times. Afterwards the subscriber keeps pulling until it has been quiet for --quiet-s, then a second,
// fresh subscriber client drains what is left. Printed: published, received (distinct), missing
// after the first subscriber, still in the subscription, and missing for good. Real Pub/Sub is
// at-least-once: missing-for-good must be 0. Exit code 1 when it is not.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Message } from '@google-cloud/pubsub';
import { emulatorClient } from '../services/local-stack/local-stack.ts';
import { startPubsubEmulator } from '../services/local-stack/pubsub-emulator.ts';
import { startTcpProxy, type CutMode } from '../test/helpers/tcp-proxy.ts';

const { values, positionals } = parseArgs({
  options: { seconds: { type: 'string' }, cuts: { type: 'string' }, 'cut-s': { type: 'string' }, mode: { type: 'string' }, role: { type: 'string' }, 'quiet-s': { type: 'string' } },
  allowPositionals: true,
});
if (values.role === 'subscriber') {
  // Child: ack on receipt, after appending the number to the file (so a SIGKILL loses no record).
  const [host, project, file] = positionals as [string, string, string];
  const client = emulatorClient(host, project);
  const sub = client.subscription('check-sub', { flowControl: { maxMessages: 2000 }, streamingOptions: { maxStreams: 2 } });
  sub.on('message', (m: Message) => {
    appendFileSync(file, `${m.data.toString()}\n`);
    m.ack();
  });
  sub.on('error', () => undefined);
  process.once('SIGTERM', () => void sub.close().then(() => client.close()).then(() => process.exit(0)));
  await new Promise(() => undefined);
}
const seconds = Number(values.seconds ?? 40);
const cuts = Number(values.cuts ?? 2);
const cutS = Number(values['cut-s'] ?? 3);
const mode = (values.mode ?? 'refuse') as CutMode | 'kill';
/** How long the first subscriber must have received nothing before it is stopped (s). */
const quietS = Number(values['quiet-s'] ?? 10);

const emulator = await startPubsubEmulator();
const proxy = await startTcpProxy(emulator.host);
const direct = emulatorClient(emulator.host, emulator.projectId);
const viaProxy = emulatorClient(proxy.address, emulator.projectId);
const fresh = emulatorClient(emulator.host, emulator.projectId);
let exitCode = 0;
try {
  await direct.createTopic('check');
  await direct.topic('check').createSubscription('check-sub', { ackDeadlineSeconds: 10 });
  const received = new Set<number>();
  let lastReceivedMs = Date.now();
  const sub = viaProxy.subscription('check-sub', { flowControl: { maxMessages: 2000 }, streamingOptions: { maxStreams: 2 } });
  // kill mode: the subscriber is a child process writing what it received to a file.
  const recordFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'hg-redelivery-')), 'received');
  writeFileSync(recordFile, '');
  let child: ChildProcess | undefined;
  const startChild = () => {
    child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'subscriber', emulator.host, emulator.projectId, recordFile], { stdio: 'ignore' });
  };
  let lastSize = 0;
  const readRecord = () => {
    const text = readFileSync(recordFile, 'utf8');
    if (text.length !== lastSize) lastReceivedMs = Date.now();
    lastSize = text.length;
    for (const line of text.split('\n')) if (line) received.add(Number(line));
  };
  if (mode === 'kill') startChild();
  else {
    sub.on('message', (m: Message) => {
      received.add(Number(m.data.toString()));
      lastReceivedMs = Date.now();
      m.ack();
    });
    sub.on('error', () => undefined);
  }

  const topic = direct.topic('check', { batching: { maxMessages: 1, maxMilliseconds: 1 } });
  let published = 0;
  const start = Date.now();
  const cutAt = Array.from({ length: cuts }, (_, i) => ((i + 1) * seconds * 1000) / (cuts + 1));
  let nextCut = 0;
  while (Date.now() - start < seconds * 1000) {
    const t = Date.now() - start;
    if (nextCut < cutAt.length && t >= cutAt[nextCut]!) {
      nextCut++;
      process.stderr.write(`cut (${mode}) at ${Math.round(t / 1000)} s for ${cutS} s\n`);
      if (mode === 'kill') {
        child?.kill('SIGKILL');
        setTimeout(startChild, cutS * 1000);
      } else {
        proxy.cut(mode);
        setTimeout(() => proxy.restore(), cutS * 1000);
      }
    }
    await Promise.all(Array.from({ length: 20 }, () => topic.publishMessage({ data: Buffer.from(String(published++)) })));
    await new Promise((r) => setTimeout(r, 20));
  }
  proxy.restore();
  await new Promise((r) => setTimeout(r, cutS * 1000 + 500));
  while (Date.now() - lastReceivedMs < quietS * 1000) {
    await new Promise((r) => setTimeout(r, 250));
    if (mode === 'kill') readRecord();
  }
  if (mode === 'kill') {
    const exited = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGTERM');
    await exited;
    readRecord();
  } else {
    sub.removeAllListeners('message');
    await sub.close().catch(() => undefined);
  }
  const missingAfterFirst = published - received.size;

  const left = new Set<number>();
  let lastLeftMs = Date.now();
  const drain = fresh.subscription('check-sub', { flowControl: { maxMessages: 5000 } });
  drain.on('message', (m: Message) => {
    left.add(Number(m.data.toString()));
    lastLeftMs = Date.now();
    m.ack();
  });
  drain.on('error', () => undefined);
  while (Date.now() - lastLeftMs < 5000) await new Promise((r) => setTimeout(r, 250));
  await drain.close().catch(() => undefined);
  let gone = 0;
  for (let i = 0; i < published; i++) if (!received.has(i) && !left.has(i)) gone++;
  const result = { published, receivedByFirstSubscriber: received.size, missingAfterFirstSubscriber: missingAfterFirst, stillInSubscription: left.size, missingForGood: gone, mode, cuts, cutS };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (gone > 0 || missingAfterFirst > 0) exitCode = 1;
} finally {
  for (const c of [direct, viaProxy, fresh]) await c.close().catch(() => undefined);
  await proxy.close();
  await emulator.stop();
}
process.exit(exitCode);
