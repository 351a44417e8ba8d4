// The operations endpoints of a service without an HTTP API of its own (worker, checker): /healthz, /readyz, /metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Telemetry } from './telemetry.ts';

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startOpsServer(o: { port: number; host: string; telemetry: Telemetry; ready: () => boolean }): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/metrics') {
      o.telemetry.metricsHandler(req, res);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = o.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'not ready' }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"HG_NO_ROUTE","message":"no such endpoint"}}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
