// A loopback HTTP proxy in front of a server (fake-gcs-server) that injects faults request by request:
// a request forwarded whose response is then lost, or a 503 answer. (To hold connections, see tcp-proxy.ts.)
//
// Unlike tcp-proxy.ts, which cuts whole connections, this one sees each request, so a test can let a
// create land on the server and still make the client believe it failed (the client library then
// retries, and its retry meets the object its first attempt created).
import http from 'node:http';
import type net from 'node:net';

/**
 * What happens to one request. `forward`: passed through. `lose-response`: passed through, then the
 * connection is destroyed before any byte of the response reaches the client (the write landed; the
 * caller sees a reset). `unavailable`: answered 503 without reaching the server.
 */
export type HttpFault = 'forward' | 'lose-response' | 'unavailable';

export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
}

export interface HttpFaultProxy {
  /** http://127.0.0.1:port, to use instead of the server's endpoint. */
  readonly endpoint: string;
  /** Every request seen so far, with the fault applied to it. */
  readonly requests: ReadonlyArray<ProxiedRequest & { readonly fault: HttpFault }>;
  /** Chooses each later request's fate (the default forwards everything). */
  setRule(rule: (request: ProxiedRequest) => HttpFault): void;
  close(): Promise<void>;
}

export async function startHttpFaultProxy(targetEndpoint: string): Promise<HttpFaultProxy> {
  const target = new URL(targetEndpoint);
  const requests: Array<ProxiedRequest & { fault: HttpFault }> = [];
  const sockets = new Set<net.Socket>();
  let rule: (request: ProxiedRequest) => HttpFault = () => 'forward';

  const server = http.createServer((req, res) => {
    const request = { method: req.method ?? 'GET', url: req.url ?? '/' };
    const fault = rule(request);
    requests.push({ ...request, fault });
    if (fault === 'unavailable') {
      req.resume();
      req.on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 503, message: 'injected by the test proxy' } })));
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (upstreamRes) => {
        if (fault === 'lose-response') {
          // Read the whole answer first, so the server has finished the request before the client loses it.
          upstreamRes.resume();
          upstreamRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setRule(next) {
      rule = next;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
