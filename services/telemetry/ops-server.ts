// The operations endpoints of a service without an HTTP API of its own (worker, checker): /health/live, /health/ready, /metrics.
//
// Cloud Run reserves some URL paths ending in "z" (/healthz among them) and recommends avoiding them,
// so its probes call /health/live; /healthz and /readyz stay as aliases for local tooling.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Telemetry } from './telemetry.ts';

/** Liveness (the process serves HTTP): Cloud Run's startup and liveness probes. */
export const LIVE_PATHS: readonly string[] = ['/health/live', '/healthz'];
/** Readiness (200 while the service is ready, 503 otherwise). */
export const READY_PATHS: readonly string[] = ['/health/ready', '/readyz'];

export interface OpsServer {
  readonly url: string;
  /** Stops listening and cuts open connections (a request in progress must not hold a shutdown); idempotent. */
  close(): Promise<void>;
}

export async function startOpsServer(o: { port: number; host: string; telemetry: Telemetry; ready: () => boolean }): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      o.telemetry.metricsHandler(req, res);
    } else if (LIVE_PATHS.includes(path)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (READY_PATHS.includes(path)) {
      const ready = o.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'not ready' }));
    } else {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'HG_NO_ROUTE', message: `no such endpoint: ${[...LIVE_PATHS, ...READY_PATHS, '/metrics'].join(', ')}` } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${o.host}:${port}`,
    close: () => {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
