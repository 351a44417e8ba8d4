// The console's liveness endpoint, which Cloud Run's startup and liveness probes call
// (infra/modules/cloud-run-service: GET /health/live on PORT): it answers 200 on /health/live, and on
// /healthz for local tooling, without reading the bucket; an unknown path stays a JSON 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startConsole, type RunningConsole } from '../../services/console/console-server.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { LIVE_PATHS } from '../../services/telemetry/ops-server.ts';

/** A bucket that fails every call: liveness must not depend on it. */
const unreachable = new Proxy({} as Storage, {
  get: (_t, prop) => (prop === 'location' ? 'gs://unreachable' : () => Promise.reject(new Error(`storage.${String(prop)} called`))),
});

describe('console: liveness', () => {
  let running: RunningConsole;
  before(async () => {
    running = await startConsole({ storage: unreachable, port: 0 });
  });
  after(() => running.close());

  it('answers GET /health/live with 200, the path Cloud Run probes', async () => {
    assert.ok(LIVE_PATHS.includes('/health/live'));
    const res = await fetch(`${running.url}/health/live`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('still answers /healthz for local tooling', async () => {
    const res = await fetch(`${running.url}/healthz`);
    assert.equal(res.status, 200);
  });

  it('answers 404 on a path it does not serve', async () => {
    const res = await fetch(`${running.url}/health/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HG_NO_ROUTE');
  });
});
