// A process of many light SDK publishers: `identities` Publisher instances (each its own publisher id, seqs and heartbeats, as the SDK sends them) sharing one Pub/Sub client, each publishing a few types at a modest rate.
//
// Run as a child: node bench/scale/publisher-fleet.ts '<FleetOptions as JSON>' (with PUBSUB_EMULATOR_HOST,
// HOURGLASS_PROJECT). Lines on stdout, JSON:
//   {"ready":true,"publishers":n}                               every identity registered: publishing starts now
//   {"final":true,"publisher":…,"acknowledged":{type:n},"failed":n}   one per identity, after the stop
//   {"done":true,"identities":n,"failed":n,"firstPublishMs":…,"lastPublishMs":…,"cpuS":…}
// It stops at stopAtMs (or on SIGTERM), closes every identity (everything sent settles, final heartbeats go
// out), writes the lines above and exits. Seqs are per (identity, type) from 0 without gaps, so with no
// failure the acknowledged seqs of a stream are exactly [0, acknowledged).
import { emulatorClient } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { SAMPLE_EVENTS } from '../../test/helpers/sample-events.ts';
import { spawnChild, type Child } from '../kit/child-process.ts';

export interface FleetOptions {
  readonly schemasDir: string;
  readonly topicPrefix: string;
  readonly windowS: number;
  /** Index of this process's first identity among all of them (types are assigned by the global index). */
  readonly firstIdentity: number;
  readonly identities: number;
  readonly typesPerIdentity: number;
  /** Events/s of one identity, spread evenly over its types. */
  readonly identityEps: number;
  /** The SDK's periodic heartbeat of each identity (ms); unset: the SDK's default. */
  readonly heartbeatIntervalMs?: number;
  readonly stopAtMs: number;
  readonly origin: string;
}

export interface FleetFinal {
  readonly publisher: string;
  readonly acknowledged: Readonly<Record<string, number>>;
  readonly failed: number;
}

export interface FleetDone {
  readonly identities: number;
  readonly failed: number;
  readonly firstPublishMs: number;
  readonly lastPublishMs: number;
  readonly cpuS: number;
}

/** The types identity `i` publishes: spread so that every type gets publishers once there are as many identities as types. */
export function typesOf(i: number, typeNames: readonly string[], perIdentity: number): string[] {
  const T = typeNames.length;
  const out = new Set<string>();
  for (let k = 0; out.size < Math.min(perIdentity, T) && k < 4 * T; k++) out.add(typeNames[(i * 7 + k * 13) % T]!);
  return [...out];
}

/** A started fleet process: its final lines are collected as they come. */
export interface FleetProcess {
  readonly child: Child;
  /** Resolves with every identity's final line and the done line once the process stopped publishing. */
  readonly finished: Promise<{ finals: FleetFinal[]; done: FleetDone }>;
}

export async function startFleet(options: FleetOptions, env: Record<string, string>): Promise<FleetProcess> {
  const child = spawnChild([SELF, JSON.stringify(options)], env);
  const finals: FleetFinal[] = [];
  // Not child.line(): the child's exit can be seen before the last of its hundreds of lines are read.
  const finished = new Promise<{ finals: FleetFinal[]; done: FleetDone }>((resolve, reject) => {
    child.onLine((l) => {
      if (l.final === true) finals.push(l as unknown as FleetFinal);
      if (l.done === true) resolve({ finals, done: l as unknown as FleetDone });
    });
    void child.exited.then((code) => setTimeout(() => reject(new Error(`publisher fleet ${options.firstIdentity}+${options.identities} exited (${code}) without its final lines`)), EXIT_GRACE_MS));
  });
  finished.catch(() => undefined); // awaited by the caller; a start failure surfaces below
  await child.line((l) => l.ready === true);
  return { child, finished };
}

const SELF = new URL(import.meta.url).pathname;
/** How long after a fleet's exit its remaining stdout lines may still arrive (ms). */
const EXIT_GRACE_MS = 10_000;

async function fleet(o: FleetOptions): Promise<void> {
  const pubsub = emulatorClient(process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT!);
  const registry = await Registry.load(o.schemasDir);
  const names = registry.names();
  const payloads = Array.from({ length: 64 }, (_, i) => SAMPLE_EVENTS.search_performed!(i));
  const ids = Array.from({ length: o.identities }, (_, k) => {
    const index = o.firstIdentity + k;
    const publisher = new Publisher({ registry, pubsub, windowLengthS: o.windowS, origin: o.origin, topicPrefix: o.topicPrefix, ...(o.heartbeatIntervalMs ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}) });
    const types = typesOf(index, names, o.typesPerIdentity);
    return { publisher, types, sent: 0, acknowledged: Object.fromEntries(types.map((t) => [t, 0])) as Record<string, number>, failed: 0 };
  });
  await Promise.all(ids.map((id) => id.publisher.ready()));
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  const firstPublishMs = Date.now();
  emit({ ready: true, publishers: ids.length });
  // Identities start at staggered phases, so the process does not send in bursts.
  const phase = ids.map((_, k) => k / ids.length);
  while (!stopping && Date.now() < o.stopAtMs) {
    const elapsedS = (Date.now() - firstPublishMs) / 1000;
    for (const [k, id] of ids.entries()) {
      const due = Math.floor(elapsedS * o.identityEps + phase[k]!);
      while (id.sent < due) {
        const type = id.types[id.sent % id.types.length]!;
        id.sent++;
        id.publisher.publish(type, payloads[id.sent % payloads.length]!).then(
          () => id.acknowledged[type]!++,
          () => id.failed++,
        );
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const lastPublishMs = Date.now();
  await Promise.all(ids.map((id) => id.publisher.close().catch(() => undefined)));
  await new Promise((r) => setImmediate(r)); // the publish promises' callbacks
  const cpu = process.cpuUsage();
  const lines = [
    ...ids.map((id) => ({ final: true, publisher: id.publisher.id, acknowledged: id.acknowledged, failed: id.failed })),
    { done: true, identities: ids.length, failed: ids.reduce((n, id) => n + id.failed, 0), firstPublishMs, lastPublishMs, cpuS: (cpu.user + cpu.system) / 1e6 },
  ];
  // Written out before the exit: a full pipe queues the rest, and process.exit() would drop it.
  await new Promise((r) => process.stdout.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''), r));
  await pubsub.close();
  process.exit(0);
}

function emit(l: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(l)}\n`);
}

if (import.meta.main) await fleet(JSON.parse(process.argv[2] ?? '{}') as FleetOptions);
