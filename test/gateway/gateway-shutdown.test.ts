// The gateway process (services/gateway/main.ts) on SIGTERM: stops accepting, answers every request in flight, sends a final heartbeat, exits 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { parseHeartbeat, type Heartbeat } from '../../services/wire/heartbeat.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { sampleSum } from '../telemetry/prometheus-text.ts';
import { eventually, postEvents, request } from './gateway-kit.ts';

const MAIN = new URL('../../services/gateway/main.ts', import.meta.url).pathname;

interface LogLine {
  readonly level: string;
  readonly event: string;
  readonly [key: string]: unknown;
}

describe('gateway process: graceful shutdown on SIGTERM', () => {
  let registry: Registry;
  let stack: LocalStack;
  let proxy: TcpProxy;
  let child: ChildProcess | undefined;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    proxy = await startTcpProxy(stack.pubsub.host);
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await proxy?.close();
    await stack?.stop();
  });

  it('answers every in-flight request with 200, refuses new connections, sends a final heartbeat and exits 0', async () => {
    // The gateway reaches the emulator through a proxy, so the test can hold acknowledgements back
    // and be certain the requests are still in flight when SIGTERM arrives.
    child = spawn(process.execPath, [MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        METADATA_SERVER_DETECTION: 'none',
        PUBSUB_EMULATOR_HOST: proxy.address,
        HOURGLASS_MODE: 'local',
        HOURGLASS_PORT: '0',
        HOURGLASS_PROJECT: stack.pubsub.projectId,
        HOURGLASS_SHUTDOWN_TIMEOUT_MS: '60000',
      },
    });
    const logs: LogLine[] = [];
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    // The log is JSON lines on stdout; anything on stderr is kept too, to explain a failure.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 'raw', event: 'stdout', line });
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push({ level: 'raw', event: 'stderr', line }));
    const logged = (event: string) => logs.find((l) => l.event === event);
    await eventually('the gateway to listen', () => logged('gateway_listening') !== undefined || child!.exitCode !== null, 60_000);
    const listening = logged('gateway_listening');
    assert.ok(listening, `gateway did not start: ${JSON.stringify(logs)}`);
    const url = String(listening.url);
    const opsUrl = String(listening.opsUrl);
    const publisherId = String(listening.publisher);

    const perRequest = 50;
    const body = (r: number) => Array.from({ length: perRequest }, (_, i) => ({ payload: trackPlayed(r * perRequest + i) }));
    assert.deepEqual((await postEvents(url, 'track_played', body(0))).json, { accepted: perRequest }, 'link up');

    proxy.cut('blackhole');
    const inFlightCount = 4;
    const inFlight = Array.from({ length: inFlightCount }, (_, k) => postEvents(url, 'track_played', body(k + 1)));
    await eventually('every request to be in flight', async () => sampleSum((await request(`${opsUrl}/metrics`)).text, 'hourglass_gateway_in_flight_requests') === inFlightCount);

    child.kill('SIGTERM');
    await eventually('the gateway to start draining', () => logged('gateway_draining') !== undefined);
    await assert.rejects(fetch(`${url}/healthz`), 'a draining gateway accepts no new connection');
    proxy.restore();

    for (const answer of await Promise.all(inFlight)) {
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json, { accepted: perRequest });
    }
    assert.equal(await exited, 0, `exit code (logs: ${JSON.stringify(logs.slice(-5))})`);
    assert.deepEqual(
      { drained: logged('gateway_stopped')?.drained, publisherClosed: logged('gateway_stopped')?.publisherClosed },
      { drained: true, publisherClosed: true },
    );

    const total = perRequest * (inFlightCount + 1);
    const heartbeats: Heartbeat[] = (await drainSubscription(stack.client, stack.names.controlSubscription))
      .map((m) => parseHeartbeat(m.data))
      .flatMap((h) => (h.ok && h.value.publisher === publisherId ? [h.value] : []));
    const final = heartbeats.find((h) => h.final);
    assert.ok(final, `a final heartbeat from ${publisherId} is on the control topic (saw ${heartbeats.length} heartbeats)`);
    assert.match(final.origin, /^gateway@/);
    assert.deepEqual(final.types.track_played, { nextSeq: total, ackedBelow: total }, 'every event assigned was acknowledged');

    let delivered = 0;
    for (const m of await drainSubscription(stack.client, stack.names.workerSubscription('track_played'))) {
      const batch = decodeBatch(registry, m.data, m.attributes);
      if (batch.attributes.publisher === publisherId) delivered += batch.attributes.count;
    }
    assert.equal(delivered, total, 'every answered event is in the topic');
  });
});
