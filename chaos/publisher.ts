// A chaos-suite publisher process: publishes sample events of several types through the SDK at a steady rate, and appends every resolved seq range to a file.
//
// Run by run-chaos.ts: node chaos/publisher.ts <record file> <types,comma-separated> <events/s> <window s> <clock offset s> <stop after s> <seed> <payload slot>
// env: PUBSUB_EMULATOR_HOST, HOURGLASS_PROJECT.
// The record is what the audit holds the pipeline to: one JSON line {"p","t","f","n"} per resolved
// range, appended synchronously once the range resolved, so a SIGKILL loses at most ranges that had
// resolved in the last moment (which the audit then does not require: conservative, never a false alarm).
// Seqs are known here without asking the SDK: it numbers each type's events 0, 1, 2… in publish() call
// order, and publish() is only called when it would not wait (wouldBlock() false), so none is reordered.
// Payloads come from chaos/payloads.ts: one text field drawn from the seed (any Unicode plane, empty to
// 20 KB), and a user_id "chaos-<seq>-<tag of the text>", so the audit can check each record arrived
// whole and unmixed.
// SIGTERM: stop publishing, close (flush + final heartbeat), exit 0.
import { appendFileSync } from 'node:fs';
import { emulatorClient } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { Publisher } from '../services/sdk/index.ts';
import { systemClock } from '../services/time/clock.ts';
import { chaosPayload } from './payloads.ts';

const [recordFileArg, typesArg, rateArg, windowArg, offsetArg, stopAfterArg, seedArg, slotArg] = process.argv.slice(2);
if (!recordFileArg || !typesArg || !rateArg || !windowArg) {
  process.stderr.write('usage: node chaos/publisher.ts <record file> <types> <events/s> <window s> [clock offset s] [stop after s] [seed] [payload slot]\n');
  process.exit(2);
}
const types = typesArg.split(',');
const rate = Number(rateArg);
const offsetUs = Math.round(Number(offsetArg ?? 0) * 1e6);
const recordFile: string = recordFileArg;
const stopAfterMs = Number(stopAfterArg ?? 3600) * 1000;
const seed = Number(seedArg ?? 0);
const slot = Number(slotArg ?? 0);

const pubsub = emulatorClient(process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT ?? 'hourglass-local');
const publisher = new Publisher({
  registry: await Registry.load(),
  pubsub,
  windowLengthS: Number(windowArg),
  origin: offsetUs === 0 ? 'chaos' : 'chaos-skewed',
  lingerMs: 10,
  maxBatchEvents: 200,
  heartbeatIntervalMs: 1000,
  ...(offsetUs === 0 ? {} : { clock: { nowUs: () => systemClock.nowUs() + offsetUs } }),
});

// Resolved seqs, merged into ranges and appended once per turn of the event loop.
const resolved = new Map<string, number[]>();
let flushQueued = false;
function noteResolved(type: string, seq: number): void {
  let seqs = resolved.get(type);
  if (!seqs) resolved.set(type, (seqs = []));
  seqs.push(seq);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushRecord);
  }
}
function flushRecord(): void {
  flushQueued = false;
  const lines: string[] = [];
  for (const [type, seqs] of resolved) {
    seqs.sort((a, b) => a - b);
    let from = seqs[0]!;
    let prev = from;
    for (const s of [...seqs.slice(1), Number.NaN]) {
      if (s === prev + 1) {
        prev = s;
        continue;
      }
      lines.push(JSON.stringify({ p: publisher.id, t: type, f: from, n: prev - from + 1 }));
      from = prev = s;
    }
  }
  resolved.clear();
  if (lines.length > 0) appendFileSync(recordFile, `${lines.join('\n')}\n`);
}

const nextSeq = new Map<string, number>();
let failed = 0;
function publishOne(i: number): void {
  const type = types[i % types.length]!;
  const seq = nextSeq.get(type) ?? 0;
  nextSeq.set(type, seq + 1);
  const payload = chaosPayload(type, seq, seed, slot);
  publisher.publish(type, payload).then(
    () => noteResolved(type, seq),
    () => void failed++,
  );
}

let stopping = false;
process.once('SIGTERM', () => (stopping = true));
process.stdout.write(`${JSON.stringify({ ready: true, publisher: publisher.id, offsetS: offsetUs / 1e6 })}\n`);
const started = Date.now();
let published = 0;
while (!stopping && Date.now() - started < stopAfterMs) {
  const due = Math.floor(((Date.now() - started) / 1000) * rate);
  while (published < due && !publisher.wouldBlock()) publishOne(published++);
  await new Promise((r) => setTimeout(r, 20));
}
await publisher.close().catch(() => undefined);
flushRecord();
process.stdout.write(`${JSON.stringify({ done: true, publisher: publisher.id, published, failed, stats: publisher.stats() })}\n`);
await pubsub.close().catch(() => undefined);
process.exit(0);
