// Scale model calculator for docs/scale-model.md: messages, Pub/Sub bytes and cost, workers, GCS requests at a given load, from per-instance figures measured by the benchmarks.
//
// Run: node_modules/.bin/node bench/scale-sim.ts [--json] [--eps 8000000] [--types 500] [--gateways 200] [--linger-ms 20|adaptive]
//      [--max-linger-ms 250] [--worker-eps-per-core N] [--event-bytes N] [--wire-ratio N] [--file-age-s N] [--types-per-worker N]
//      node_modules/.bin/node bench/scale-sim.ts --linger-table   (the Pub/Sub bill at a 20 ms linger, the adaptive default, a 1 s linger)
// Not a measurement: arithmetic over a model, with every input printed beside the outputs. The model:
//   - traffic per type follows a Zipf law (exponent 1) over the types, as a few types carry most events;
//   - every gateway instance carries an equal share of every type (clients are spread by a load balancer);
//   - the SDK seals a batch per (publisher, type) at maxBatchEvents or lingerMs after its first event, so
//     a (gateway, type) pair at r events/s (Poisson) sends messages of 1 + r × linger events, at most 1000
//     (a linger of 0 is a timer tick, 1 ms). With the adaptive default (services/sdk/adaptive-linger.ts)
//     the linger is lingerFor(r) of that file, the pair's steady state: 0 for a pair too sparse to gain,
//     twice the time to fill a message for a fast one, the budget (maxLingerMs) between; its rare probes
//     (one batch per 10 s at most) are left out;
//   - a message costs its compressed data plus its attributes (~290 bytes: 12 attributes, a 42-character
//     publisher id, the timestamp and message id Pub/Sub counts); Pub/Sub bills publish and delivery
//     at $40 per TiB (one subscription), at least 1000 bytes per publish request; the client groups
//     a topic's messages per request within 2 ms (at most 50);
//   - the daily volume is half the peak rate all day (assumed);
//   - a worker writes a staging file and its manifest per (type, window) at least every fileAgeS for
//     every type it pulls; the checker lists twice per type per round.
import { DEFAULT_MAX_LINGER_MS, lingerFor } from '../services/sdk/adaptive-linger.ts';

export interface ScaleInput {
  readonly eps: number;
  readonly types: number;
  readonly gateways: number;
  /** A fixed linger (ms), or 'adaptive': the SDK's default. */
  readonly lingerMs: number | 'adaptive';
  /** Budget of the adaptive linger (ms). */
  readonly maxLingerMs: number;
  readonly maxBatchEvents: number;
  /** Uncompressed delivered record (bytes). */
  readonly eventBytes: number;
  /** Compression ratio of a message's data. */
  readonly wireRatio: number;
  readonly attributeBytes: number;
  /** Worker events per CPU-second, gRPC and writes included (e2e benchmark). */
  readonly workerEpsPerCore: number;
  /** Staging file age limit (s). */
  readonly fileAgeS: number;
  /** Types each worker pulls (all of them by default). */
  readonly typesPerWorker: number;
  /** Cores per worker instance. */
  readonly coresPerWorker: number;
  /** Checker round interval (s). */
  readonly checkerRoundS: number;
}

export const DEFAULTS: ScaleInput = {
  eps: 8_000_000,
  types: 500,
  gateways: 200,
  lingerMs: 'adaptive',
  maxLingerMs: DEFAULT_MAX_LINGER_MS,
  maxBatchEvents: 1000,
  eventBytes: 150,
  wireRatio: 3.4,
  attributeBytes: 290,
  workerEpsPerCore: 750_000,
  fileAgeS: 1,
  typesPerWorker: 500,
  coresPerWorker: 4,
  checkerRoundS: 0.5,
};

export interface ScaleOutput {
  readonly messagesPerS: number;
  readonly eventsPerMessage: number;
  /** Bytes of messages (data + attributes) published per second. */
  readonly pubsubPublishMBps: number;
  /** The same, billed (at least 1000 bytes per request). */
  readonly pubsubBilledMBps: number;
  readonly pubsubTiBPerDay: number;
  readonly pubsubUsdPerDay: number;
  readonly workerCores: number;
  readonly workers: number;
  readonly gcsWritesPerS: number;
  readonly checkerListsPerS: number;
  readonly storedTBPerDay: number;
}

/** Node fires a timer of 0 ms after about 1 ms. */
const TIMER_TICK_MS = 1;
const TIB = 2 ** 40;
const USD_PER_TIB = 40;
/** Average over the day against the peak: assumed. */
const AVERAGE_OVER_PEAK = 0.5;

export function model(i: ScaleInput): ScaleOutput {
  // Zipf(1) shares of the types.
  const weights = Array.from({ length: i.types }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let messagesPerS = 0;
  let dataBytesPerS = 0;
  let rawBytesPerS = 0;
  for (const w of weights) {
    const typeEps = (i.eps * w) / total;
    const pairEps = typeEps / i.gateways;
    const lingerMs = i.lingerMs === 'adaptive' ? lingerFor(pairEps / 1000, i.maxBatchEvents, i.maxLingerMs) : i.lingerMs;
    const eventsPerMessage = Math.min(i.maxBatchEvents, 1 + (pairEps * Math.max(TIMER_TICK_MS, lingerMs)) / 1000);
    const pairMessages = pairEps / eventsPerMessage;
    messagesPerS += pairMessages * i.gateways;
    // The client groups messages of one topic per request (at most 50, within 2 ms); each request is billed at least 1000 bytes.
    const messageBytes = (eventsPerMessage * i.eventBytes) / i.wireRatio + i.attributeBytes;
    const messagesPerRequest = Math.max(1, Math.min(50, pairMessages * 0.002));
    const requestsPerS = (pairMessages / messagesPerRequest) * i.gateways;
    dataBytesPerS += requestsPerS * Math.max(1000, messagesPerRequest * messageBytes);
    rawBytesPerS += pairMessages * i.gateways * messageBytes;
  }
  const publishBytesPerS = dataBytesPerS;
  // Publish + one delivery (the worker's streaming pull fills its responses, so delivery is billed at its bytes); peak → daily average.
  const tibPerDay = ((publishBytesPerS + rawBytesPerS) * 86_400 * AVERAGE_OVER_PEAK) / TIB;
  const workerCores = i.eps / i.workerEpsPerCore;
  const workers = Math.ceil((workerCores * 1.5) / i.coresPerWorker); // 50% headroom
  const activeTypesPerWorker = Math.min(i.types, i.typesPerWorker);
  const gcsWritesPerS = (workers * activeTypesPerWorker * 2) / i.fileAgeS;
  const checkerListsPerS = (2 * i.types + 1) / i.checkerRoundS;
  const storedTBPerDay = (i.eps * AVERAGE_OVER_PEAK * 86_400 * (i.eventBytes / i.wireRatio)) / 1e12;
  return {
    messagesPerS,
    eventsPerMessage: i.eps / messagesPerS,
    pubsubPublishMBps: rawBytesPerS / 1e6,
    pubsubBilledMBps: publishBytesPerS / 1e6,
    pubsubTiBPerDay: tibPerDay,
    pubsubUsdPerDay: tibPerDay * USD_PER_TIB,
    workerCores,
    workers,
    gcsWritesPerS,
    checkerListsPerS,
    storedTBPerDay,
  };
}

/** The Pub/Sub rows of docs/scale-model.md: the former default (20 ms), the adaptive default, a hand-tuned 1 s. */
export function lingerTable(base: ScaleInput): string {
  const rows: Array<[string, ScaleInput]> = [
    ['20 ms fixed (the former default)', { ...base, lingerMs: 20 }],
    [`adaptive, budget ${base.maxLingerMs} ms (the default)`, { ...base, lingerMs: 'adaptive' }],
    ['1 s fixed (hand-tuned)', { ...base, lingerMs: 1000 }],
  ];
  const lines = [
    '| SDK linger | messages/s | events per message | Pub/Sub bytes published (billed) | Pub/Sub TiB/day | Pub/Sub $/day |',
    '|---|---|---|---|---|---|',
  ];
  for (const [name, input] of rows) {
    const o = model(input);
    lines.push(
      `| ${name} | ${(o.messagesPerS / 1e6).toFixed(2)} M | ${o.eventsPerMessage.toFixed(1)} | ${(o.pubsubPublishMBps / 1000).toFixed(2)} GB/s (${(o.pubsubBilledMBps / 1000).toFixed(2)} GB/s) | ${Math.round(o.pubsubTiBPerDay)} | ~${(Math.round(o.pubsubUsdPerDay / 100) * 100).toLocaleString('en-US')} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const input: Record<string, number | string> = { ...DEFAULTS };
  const flags: Record<string, keyof ScaleInput> = {
    '--eps': 'eps', '--types': 'types', '--gateways': 'gateways', '--linger-ms': 'lingerMs', '--max-linger-ms': 'maxLingerMs', '--worker-eps-per-core': 'workerEpsPerCore',
    '--event-bytes': 'eventBytes', '--wire-ratio': 'wireRatio', '--file-age-s': 'fileAgeS', '--types-per-worker': 'typesPerWorker', '--round-s': 'checkerRoundS',
  };
  for (const [flag, key] of Object.entries(flags)) {
    const at = args.indexOf(flag);
    if (at >= 0) input[key] = key === 'lingerMs' && args[at + 1] === 'adaptive' ? 'adaptive' : Number(args[at + 1]);
  }
  const scale = input as unknown as ScaleInput;
  if (args.includes('--linger-table')) console.log(lingerTable(scale));
  else {
    const out = model(scale);
    if (args.includes('--json')) console.log(JSON.stringify({ input, output: out }));
    else {
      for (const [k, v] of Object.entries(input)) console.log(`in   ${k.padEnd(20)} ${v}`);
      for (const [k, v] of Object.entries(out)) console.log(`out  ${k.padEnd(20)} ${Number.isInteger(v) ? v : v.toFixed(2)}`);
    }
  }
}
