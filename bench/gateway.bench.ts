// Benchmark: gateway throughput in events/s with 100-event requests, on the real Pub/Sub emulator, against publishing with the SDK directly.
//
// Run: node_modules/.bin/node bench/gateway.bench.ts [--json] [--quick] [--concurrency=N]
// Three cases on one emulator, measured in interleaved rounds (median reported):
//   gateway_eps            the gateway as its own process (services/gateway/main.ts), as deployed;
//                          this process only generates load (keep-alive HTTP, N requests in flight)
//   gateway_inprocess_eps  gateway, publisher and load generator sharing one event loop
//   sdk_direct_eps         Publisher.publishMany with the same 100-event batches, no HTTP
// A request counts once it is answered 200, i.e. once Pub/Sub acknowledged all its events. The
// machine is shared with the emulator (a JVM), so absolute numbers depend on what else runs.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { resolveGatewayOptions } from '../services/gateway/gateway-options.ts';
import { silentLogger } from '../services/gateway/log.ts';
import { startGateway } from '../services/gateway/server.ts';
import { emulatorClient, startLocalStack, type LocalStack } from '../services/local-stack/local-stack.ts';
import { Registry } from '../services/registry/registry.ts';
import { Publisher } from '../services/sdk/index.ts';
import { trackPlayed } from '../test/helpers/sample-events.ts';
import { mustBeZero, requireZeros, runStandalone, type BenchResult } from './kit/results.ts';
import { median } from './kit/stats.ts';

export interface BenchOptions {
  /** Events per request. Default: 100. */
  eventsPerRequest?: number;
  /** Requests in flight at once. Default: 32. */
  concurrency?: number;
  /** Measured time per case per round (ms). Default: 4000. */
  roundMs?: number;
  /** Interleaved rounds; each case's median is reported. Default: 3. */
  rounds?: number;
  /** Hard cap on measured requests per case per round. Default: 1,000,000. */
  maxRequests?: number;
}

const TYPE = 'track_played';
const MAIN = new URL('../services/gateway/main.ts', import.meta.url).pathname;

interface Measured {
  /** Successful requests (or publishMany calls). */
  readonly requests: number;
  readonly seconds: number;
  readonly failures: number;
}

interface Case {
  readonly name: string;
  /** One request (or one publishMany); true when it succeeded. */
  readonly once: () => Promise<boolean>;
  readonly stop: () => Promise<void>;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const eventsPerRequest = options.eventsPerRequest ?? 100;
  const concurrency = options.concurrency ?? 32;
  const roundMs = options.roundMs ?? 4000;
  const rounds = options.rounds ?? 3;
  const maxRequests = options.maxRequests ?? 1_000_000;
  const registry = await Registry.load();
  const stack = await startLocalStack({ registry });
  const cases: Case[] = [];
  try {
    const items = Array.from({ length: eventsPerRequest }, (_, i) => ({ payload: trackPlayed(i) }));
    const body = Buffer.from(JSON.stringify(items));
    cases.push(await childGateway(stack, body, concurrency));
    cases.push(await inProcessGateway(stack, registry, body, concurrency));
    cases.push(await sdkDirect(stack, registry, items));

    // Interleaved rounds, so that noise from whatever else runs on the machine hits every case alike.
    const samples = new Map<string, Measured[]>(cases.map((c) => [c.name, []]));
    for (const c of cases) await drive(c, concurrency, roundMs / 4, maxRequests); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) samples.get(c.name)!.push(await drive(c, concurrency, roundMs, maxRequests));
    }
    const eps = (name: string) => median(samples.get(name)!.map((m) => (m.requests * eventsPerRequest) / m.seconds));
    const failures = [...samples.values()].flat().reduce((n, m) => n + m.failures, 0);
    const of = `median of ${rounds} interleaved round${rounds === 1 ? '' : 's'} of ${roundMs} ms`;
    return requireZeros([
      { name: 'gateway_eps', value: Math.round(eps('gateway')), unit: `events/s, gateway as its own process (${of})` },
      { name: 'gateway_rps', value: Math.round(eps('gateway') / eventsPerRequest), unit: 'requests/s' },
      { name: 'gateway_inprocess_eps', value: Math.round(eps('gateway_inprocess')), unit: `events/s, gateway in this process (${of})` },
      { name: 'sdk_direct_eps', value: Math.round(eps('sdk_direct')), unit: `events/s, Publisher.publishMany, no HTTP (${of})` },
      { name: 'gateway_vs_sdk_direct', value: Number((eps('gateway') / eps('sdk_direct')).toFixed(2)), unit: 'x' },
      { name: 'gateway_request_bytes', value: body.length, unit: 'bytes' },
      mustBeZero('gateway_failed_requests', failures, 'requests not answered 200'),
    ]);
  } finally {
    for (const c of cases) await c.stop().catch(() => undefined);
    await stack.stop();
  }
}

/** Runs `c.once` from `concurrency` loops for `ms` (or `maxRequests` successes). */
async function drive(c: Case, concurrency: number, ms: number, maxRequests: number): Promise<Measured> {
  const stopAt = Date.now() + ms;
  let requests = 0;
  let failures = 0;
  const started = performance.now();
  const loop = async () => {
    while (Date.now() < stopAt && requests < maxRequests) {
      if (await c.once()) requests++;
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, seconds: (performance.now() - started) / 1000, failures };
}

/** A keep-alive HTTP client posting the same body; true when answered 200. */
function poster(baseUrl: string, body: Buffer, concurrency: number): { post: () => Promise<boolean>; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(`/v1/events/${TYPE}`, baseUrl);
  const post = () =>
    new Promise<boolean>((resolve) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
          res.on('error', () => resolve(false));
        },
      );
      req.on('error', () => resolve(false));
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** The gateway as deployed: its own process (main.ts), this one only generating load. */
async function childGateway(stack: LocalStack, body: Buffer, concurrency: number): Promise<Case> {
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      METADATA_SERVER_DETECTION: 'none',
      PUBSUB_EMULATOR_HOST: stack.pubsub.host,
      HOURGLASS_MODE: 'local',
      HOURGLASS_PORT: '0',
      HOURGLASS_PROJECT: stack.pubsub.projectId,
    },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopChild = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { event?: string; url?: string };
          if (entry.event === 'gateway_listening' && entry.url) resolve(entry.url);
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`gateway exited early (${code})`)));
    });
    const client = poster(url, body, concurrency);
    return {
      name: 'gateway',
      once: client.post,
      stop: async () => {
        client.close();
        await stopChild();
      },
    };
  } catch (err) {
    await stopChild();
    throw err;
  }
}

/** Gateway, publisher and load generator in this process, on one event loop. */
async function inProcessGateway(stack: LocalStack, registry: Registry, body: Buffer, concurrency: number): Promise<Case> {
  const pubsub = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
  const publisher = new Publisher({ registry, pubsub, origin: 'gateway' });
  const gateway = await startGateway({ publisher, registry, options: resolveGatewayOptions({}, { mode: 'local', port: 0 }), logger: silentLogger });
  const client = poster(gateway.url, body, concurrency);
  return {
    name: 'gateway_inprocess',
    once: client.post,
    stop: async () => {
      client.close();
      await gateway.close();
      await pubsub.close();
    },
  };
}

/** The same batches through Publisher.publishMany, no HTTP. */
async function sdkDirect(stack: LocalStack, registry: Registry, items: Array<{ payload: object }>): Promise<Case> {
  const pubsub = emulatorClient(stack.pubsub.host, stack.pubsub.projectId);
  const publisher = new Publisher({ registry, pubsub, origin: 'bench' });
  return {
    name: 'sdk_direct',
    once: () => publisher.publishMany(TYPE, items).then(
      () => true,
      () => false,
    ),
    stop: async () => {
      await publisher.close();
      await pubsub.close();
    },
  };
}

export const QUICK: BenchOptions = { rounds: 1, roundMs: 2000 };

if (import.meta.main) {
  const args = new Set(process.argv.slice(2));
  const concurrency = process.argv.find((a) => a.startsWith('--concurrency='));
  await runStandalone(
    () =>
      run({
        ...(args.has('--quick') ? QUICK : {}),
        ...(concurrency ? { concurrency: Number(concurrency.split('=')[1]) } : {}),
      }),
    args.has('--json'),
  );
}
