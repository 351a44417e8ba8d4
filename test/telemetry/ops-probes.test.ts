// Every ops server answers the probe paths Cloud Run calls (/health/live, /health/ready) and keeps /healthz and /readyz as aliases:
// the worker's and the checker's (telemetry/ops-server.ts) and the gateway's (createOpsApp); the Terraform probes call /health/live.
//
// Cloud Run reserves some URL paths ending in "z" and recommends avoiding them for probes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createOpsApp } from '../../services/gateway/app.ts';
import { GatewayLifecycle } from '../../services/gateway/lifecycle.ts';
import { LIVE_PATHS, READY_PATHS, startOpsServer } from '../../services/telemetry/ops-server.ts';
import type { Telemetry } from '../../services/telemetry/telemetry.ts';
import { stubPublisher } from '../gateway/gateway-kit.ts';

const MODULE_TF = new URL('../../infra/modules/cloud-run-service/main.tf', import.meta.url);

/** A telemetry whose /metrics answers a fixed text (the real one is tested in metrics.test.ts). */
const fakeTelemetry: Telemetry = {
  metricsHandler: (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('# metrics\n'),
  shutdown: async () => undefined,
};

async function get(url: string, method = 'GET'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

describe('ops endpoints: the probe paths Cloud Run calls, and their aliases', () => {
  it('names the paths: /health/live and /health/ready first, the z paths as aliases', () => {
    assert.deepEqual(LIVE_PATHS, ['/health/live', '/healthz']);
    assert.deepEqual(READY_PATHS, ['/health/ready', '/readyz']);
  });

  it('worker and checker (startOpsServer): liveness on both paths; readiness on both, following the service; 405 for other methods; 404 naming the paths', async () => {
    let ready = true;
    const ops = await startOpsServer({ port: 0, host: '127.0.0.1', telemetry: fakeTelemetry, ready: () => ready });
    try {
      for (const path of ['/health/live', '/healthz']) assert.deepEqual(await get(`${ops.url}${path}`), { status: 200, json: { status: 'ok' } }, path);
      for (const path of ['/health/ready', '/readyz']) assert.deepEqual(await get(`${ops.url}${path}?x=1`), { status: 200, json: { status: 'ready' } }, path);
      ready = false;
      for (const path of ['/health/ready', '/readyz']) assert.deepEqual(await get(`${ops.url}${path}`), { status: 503, json: { status: 'not ready' } }, `${path} while stopping`);
      for (const path of ['/health/live', '/healthz']) assert.equal((await get(`${ops.url}${path}`)).status, 200, `${path}: liveness does not follow readiness`);
      assert.equal((await get(`${ops.url}/metrics`)).status, 200);
      for (const path of ['/health/live', '/health/ready', '/healthz', '/readyz', '/metrics']) assert.equal((await get(`${ops.url}${path}`, 'POST')).status, 405, `POST ${path}`);
      const missing = await get(`${ops.url}/health`);
      assert.equal(missing.status, 404);
      assert.match(JSON.stringify(missing.json), /HG_NO_ROUTE.*\/health\/live.*\/health\/ready/);
    } finally {
      await ops.close();
    }
  });

  it('gateway (createOpsApp): liveness and readiness on both paths; readiness 503 while draining; other methods 405; 404 naming the paths', async () => {
    let healthy = true;
    const lifecycle = new GatewayLifecycle();
    const app = createOpsApp({ publisher: stubPublisher({ isHealthy: () => healthy }), options: { retryAfterS: 1 }, lifecycle });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/health/live', '/healthz']) assert.deepEqual(await get(`${url}${path}`), { status: 200, json: { status: 'ok' } }, path);
      for (const path of ['/health/ready', '/readyz']) assert.deepEqual(await get(`${url}${path}`), { status: 200, json: { status: 'ready' } }, path);
      healthy = false;
      for (const path of ['/health/ready', '/readyz']) assert.deepEqual(await get(`${url}${path}`), { status: 503, json: { status: 'unavailable', reason: 'Pub/Sub has been failing' } }, path);
      healthy = true;
      lifecycle.startDraining();
      for (const path of ['/health/ready', '/readyz']) assert.deepEqual(await get(`${url}${path}`), { status: 503, json: { status: 'unavailable', reason: 'shutting down' } }, `${path} while draining`);
      for (const path of ['/health/live', '/healthz']) assert.equal((await get(`${url}${path}`)).status, 200, `${path}: liveness does not follow readiness`);
      for (const path of ['/health/live', '/health/ready', '/healthz', '/readyz']) assert.equal((await get(`${url}${path}`, 'POST')).status, 405, `POST ${path}`);
      const missing = await get(`${url}/health`);
      assert.equal(missing.status, 404);
      assert.match(JSON.stringify(missing.json), /HG_NO_ROUTE.*\/health\/live.*\/health\/ready/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Terraform: the startup and liveness probes of every service call /health/live, no path ending in "z"', async () => {
    const tf = await readFile(MODULE_TF, 'utf8');
    const probes = [...tf.matchAll(/(startup_probe|liveness_probe|readiness_probe)\s*\{[^}]*?http_get\s*\{[^}]*?path\s*=\s*"([^"]*)"/g)].map((m) => [m[1], m[2]]);
    // The service container's probes, then the collector sidecar's (its own health check on "/"; which
    // container holds which is checked by test/infra/cloud-run-probes.test.ts).
    assert.deepEqual(probes, [['startup_probe', '/health/live'], ['liveness_probe', '/health/live'], ['startup_probe', '/'], ['liveness_probe', '/']]);
    for (const [, path] of [...tf.matchAll(/\bpath\s*=\s*"([^"]*)"/g)]) assert.ok(!path!.endsWith('z'), `no probe path ending in z: ${path}`);
  });
});
