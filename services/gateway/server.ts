// Listens with the gateway's public app and its ops app (probes, metrics) on their own ports, and shuts down gracefully: stop accepting, drain in-flight requests, close the publisher (final heartbeat).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Deadline } from '../concurrency/deadline.ts';
import { HourglassError } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { createOpsApp, createGatewayApp, metricsView, type GatewayPublisher, type MetricsHandler } from './app.ts';
import type { KeyRing } from './client-keys.ts';
import type { ClientQuotas } from './client-quotas.ts';
import type { GatewayOptions } from './gateway-options.ts';
import { GatewayLifecycle } from './lifecycle.ts';
import { gatewayLogger, type GatewayLogger } from './log.ts';
import { GatewayMetrics } from './metrics.ts';

export interface StartGatewayParams {
  /** Owned by the gateway from here on: close() closes it (its final heartbeat is part of a clean shutdown). */
  readonly publisher: GatewayPublisher;
  readonly registry: Registry;
  readonly options: GatewayOptions;
  /** Default: JSON lines on stdout. */
  readonly logger?: GatewayLogger;
  /**
   * Serves GET /metrics: `startTelemetry(...).metricsHandler`. Default: none (/metrics answers 404).
   * Start the telemetry before the gateway: instruments made before a meter provider is registered stay no-ops.
   */
  readonly metricsHandler?: MetricsHandler;
  /** The keys in force (a KeyFileSource's ring). Default: options.tokens. */
  readonly keys?: () => KeyRing;
  /** Default: fresh buckets. */
  readonly quotas?: ClientQuotas;
}

/** How a shutdown went. */
export interface ShutdownReport {
  /** Every in-flight request was answered within the budget. */
  readonly drained: boolean;
  /** The publisher flushed and sent its final heartbeat within the budget. */
  readonly publisherClosed: boolean;
  /** Requests still in flight when the budget ran out (their connections were cut). */
  readonly abandonedRequests: number;
}

export interface RunningGateway {
  /** Base URL, e.g. http://127.0.0.1:8080 (loopback when bound to every interface). */
  readonly url: string;
  readonly port: number;
  /** Base URL of the ops listener (/healthz, /readyz, /metrics). */
  readonly opsUrl: string;
  readonly opsPort: number;
  readonly lifecycle: GatewayLifecycle;
  readonly metrics: GatewayMetrics;
  /**
   * Graceful shutdown within options.shutdownTimeoutMs: stop accepting connections, answer the
   * requests in flight (new requests on open connections get 503), close the publisher, then the
   * server. Idempotent: every call returns the same promise.
   */
  close(): Promise<ShutdownReport>;
}

export async function startGateway(params: StartGatewayParams): Promise<RunningGateway> {
  const { publisher, options } = params;
  const logger = params.logger ?? gatewayLogger();
  const lifecycle = new GatewayLifecycle();
  const metrics = new GatewayMetrics(metricsView(lifecycle, publisher, params.registry));
  const app = createGatewayApp({ publisher, registry: params.registry, options, logger, lifecycle, metrics, keys: params.keys, quotas: params.quotas });
  const server = http.createServer(app);
  const ops = http.createServer(createOpsApp({ publisher, options, lifecycle, metricsHandler: params.metricsHandler }));
  try {
    await listen(server, options.host, options.port, 'gateway');
    await listen(ops, options.opsHost, options.opsPort, 'ops listener').catch(async (err: unknown) => {
      await new Promise((resolve) => server.close(resolve));
      throw err;
    });
  } catch (err) {
    metrics.close();
    throw err;
  }
  server.on('error', (err) => logger.error('gateway_server_error', { error: err }));
  ops.on('error', (err) => logger.error('gateway_ops_server_error', { error: err }));
  const port = (server.address() as AddressInfo).port;
  const opsPort = (ops.address() as AddressInfo).port;

  let closing: Promise<ShutdownReport> | undefined;
  const close = (): Promise<ShutdownReport> => {
    closing ??= (async () => {
      const deadline = Deadline.after(options.shutdownTimeoutMs);
      lifecycle.startDraining();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      logger.info('gateway_draining', { inFlightRequests: lifecycle.inFlight, publisher: publisher.id });
      // Requests in flight wait for their batches; send the open ones now rather than at the end of their linger.
      void publisher.flush().catch(() => undefined);
      const drained = await lifecycle.whenIdle(deadline.remainingMs());
      const abandonedRequests = lifecycle.inFlight;
      const publisherClose = await deadline.race(publisher.close());
      if (publisherClose.status === 'failed') logger.error('publisher_close_failed', { error: publisherClose.error });
      const publisherClosed = publisherClose.status === 'done';
      server.closeAllConnections();
      await serverClosed;
      // The ops listener last: /readyz said 503 for the whole drain.
      await new Promise<void>((resolve) => {
        ops.close(() => resolve());
        ops.closeAllConnections();
      });
      const report: ShutdownReport = { drained, publisherClosed, abandonedRequests };
      metrics.close();
      logger.log(drained && publisherClosed ? 'info' : 'error', 'gateway_stopped', { ...report, publisher: publisher.id });
      return report;
    })();
    return closing;
  };

  return { url: baseUrl(options.host, port), port, opsUrl: baseUrl(options.opsHost, opsPort), opsPort, lifecycle, metrics, close };
}

function listen(server: http.Server, host: string, port: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new HourglassError('HG_CONFIG_INVALID', `${what} cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** http://host:port, with loopback for a wildcard address. */
function baseUrl(host: string, port: number): string {
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${urlHost}:${port}`;
}
