// Turns on the OpenTelemetry SDK for a service: metrics in Prometheus format for /metrics, the Node runtime's metrics,
// every HTTP server's http.server.request.duration, and, when an OTLP endpoint is configured, metrics and traces over OTLP/HTTP.
//
// Every part records through @opentelemetry/api (no-op until this runs), so libraries and tests can
// use the instruments and spans without caring whether anything exports them. Spans (tracing.ts) are
// recorded only when an OTLP endpoint is set: without one no tracer provider is registered.
//
// It reads no environment: each service's configuration schema declares the OpenTelemetry variables
// (services/config/shared-settings.ts, telemetrySettings) and passes their values here.
import { Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export interface TelemetryOptions {
  /** Service name, e.g. "worker"; exported as service.name hourglass-<service>. */
  readonly service: string;
  /** OTLP/HTTP endpoint base (e.g. http://collector:4318). Default: none (Prometheus only, no spans). A service's configuration reads it from OTEL_EXPORTER_OTLP_ENDPOINT (services/config/shared-settings.ts), as the next three. */
  readonly otlpEndpoint?: string;
  /** OTLP metric export interval (ms). Default: 10000. */
  readonly exportIntervalMs?: number;
  /** Time limit of one OTLP metric export (ms), at most the interval. Default: 30000. */
  readonly exportTimeoutMs?: number;
  /** Delay between two span exports (ms). Default: 5000. */
  readonly spanExportDelayMs?: number;
  /** Node runtime metrics (event loop, heap, GC). Default: true. */
  readonly runtimeMetrics?: boolean;
}

/**
 * The HTTP instrumentation of the process: one, whatever the number of startTelemetry calls (a test may make several).
 * Its require hook fires once per process (require-in-the-middle caches the module it patched), so a second instance
 * would never see node:http; this one patches again on enable().
 */
let httpInstrumentation: HttpInstrumentation | undefined;

/**
 * Measures every HTTP server of the process: http.server.request.duration (s; http.request.method,
 * http.response.status_code, url.scheme, and http.route where the app names it: services/gateway/app.ts), and a
 * server span per request when a tracer provider is registered. Outgoing requests (Google's clients, the OTLP
 * exporters) are not instrumented: no client spans. The instrumentation (0.300) emits the stable HTTP semantic
 * conventions only (no opt-in variable any more).
 */
function instrumentHttpServers(meterProvider: MeterProvider, tracerProvider: TracerProvider | undefined): HttpInstrumentation {
  httpInstrumentation ??= new HttpInstrumentation({ enabled: false, disableOutgoingRequestInstrumentation: true });
  const instrumentation = httpInstrumentation;
  instrumentation.setMeterProvider(meterProvider);
  instrumentation.setTracerProvider(tracerProvider ?? trace.getTracerProvider());
  instrumentation.enable();
  // The services import node:http statically (ESM), before this runs: the hook patches http.Server.prototype.emit
  // when the module is next required, so require it (and https) now. Servers made before are patched too (the prototype).
  const require = createRequire(import.meta.url);
  require('node:http');
  require('node:https');
  // shimmer marks what it wrapped; a server that is not measured should not go unnoticed.
  if ((Server.prototype.emit as { __wrapped?: boolean }).__wrapped !== true) {
    process.emitWarning('the HTTP instrumentation did not patch node:http: no http.server.request.duration', 'TelemetryWarning');
  }
  return instrumentation;
}

export interface Telemetry {
  /** Serves the Prometheus text format. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  /** Flushes (metrics and spans) and stops exporting; idempotent. */
  shutdown(): Promise<void>;
}

export function startTelemetry(o: TelemetryOptions): Telemetry {
  const resource = resourceFromAttributes({ 'service.name': `hourglass-${o.service}` });
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  const base = o.otlpEndpoint?.replace(/\/$/, '');
  if (base) {
    const exportIntervalMillis = o.exportIntervalMs ?? 10_000;
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis,
        exportTimeoutMillis: Math.min(o.exportTimeoutMs ?? 30_000, exportIntervalMillis),
      }),
    );
  }
  const provider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(provider);

  // Spans only when they go somewhere: without a tracer provider the API's spans are no-ops and carry no context.
  let tracerProvider: TracerProvider | undefined;
  if (base) {
    tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }), scheduledDelayMillis: o.spanExportDelayMs ?? 5000 }),
      ],
    });
    trace.setGlobalTracerProvider(tracerProvider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  }
  // The active context follows async work: a log line written inside a traced step carries its trace (logger.ts), and
  // an HTTP request's route, named by the app while it handles the request, reaches its duration (with or without OTLP).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  const http = instrumentHttpServers(provider, tracerProvider);

  // nodejs.eventloop.*, v8js.* (semantic conventions): on the provider above, so on /metrics and OTLP alike.
  const runtime = o.runtimeMetrics === false ? undefined : new RuntimeNodeInstrumentation({ enabled: false });
  if (runtime) {
    runtime.setMeterProvider(provider);
    runtime.enable();
  }

  let stopping: Promise<void> | undefined;
  return {
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => {
      stopping ??= (async () => {
        runtime?.disable();
        http.disable();
        // The last spans and metrics flush together (each exporter bounded by its own timeout).
        const results = await Promise.allSettled([tracerProvider?.shutdown(), provider.shutdown()]);
        if (tracerProvider) {
          trace.disable();
          propagation.disable();
        }
        context.disable();
        metrics.disable();
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}
