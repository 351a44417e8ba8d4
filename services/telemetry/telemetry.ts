// Turns on the OpenTelemetry SDK for a service: metrics in Prometheus format for /metrics, the Node runtime's metrics,
// and, when an OTLP endpoint is configured, metrics and traces over OTLP/HTTP.
//
// Every part records through @opentelemetry/api (no-op until this runs), so libraries and tests can
// use the instruments and spans without caring whether anything exports them. Spans (tracing.ts) are
// recorded only when an OTLP endpoint is set: without one no tracer provider is registered.
//
// Environment honoured (the OpenTelemetry SDK's names; options given in code win):
//   OTEL_METRIC_EXPORT_INTERVAL   OTLP metric export interval (ms). Default: 10000.
//   OTEL_METRIC_EXPORT_TIMEOUT    OTLP metric export timeout (ms), at most the interval. Default: 30000 (clamped).
//   OTEL_BSP_SCHEDULE_DELAY       delay between two span exports (ms). Default: 5000.
// The endpoint itself (OTEL_EXPORTER_OTLP_ENDPOINT) is read by each main.ts and passed as otlpEndpoint.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export interface TelemetryOptions {
  /** Service name, e.g. "worker"; exported as service.name hourglass-<service>. */
  readonly service: string;
  /** OTLP/HTTP endpoint base (e.g. http://collector:4318). Env OTEL_EXPORTER_OTLP_ENDPOINT. Default: none (Prometheus only, no spans). */
  readonly otlpEndpoint?: string;
  /** OTLP metric export interval (ms). Env OTEL_METRIC_EXPORT_INTERVAL. Default: 10000. */
  readonly exportIntervalMs?: number;
  /** Delay between two span exports (ms). Env OTEL_BSP_SCHEDULE_DELAY. Default: 5000. */
  readonly spanExportDelayMs?: number;
  /** Node runtime metrics (event loop, heap, GC). Default: true. */
  readonly runtimeMetrics?: boolean;
  /** Where the OTEL_* settings are read. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface Telemetry {
  /** Serves the Prometheus text format. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  /** Flushes (metrics and spans) and stops exporting; idempotent. */
  shutdown(): Promise<void>;
}

/** A positive integer setting (ms) from the environment, or undefined when unset; a malformed one is ignored with a warning, as the SDK's own settings are. */
function envMs(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (Number.isSafeInteger(n) && n > 0) return n;
  process.emitWarning(`${name} must be a positive integer (ms), got ${JSON.stringify(raw)}: ignored`, 'TelemetryWarning');
  return undefined;
}

export function startTelemetry(o: TelemetryOptions): Telemetry {
  const env = o.env ?? process.env;
  const resource = resourceFromAttributes({ 'service.name': `hourglass-${o.service}` });
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  const base = o.otlpEndpoint?.replace(/\/$/, '');
  if (base) {
    const exportIntervalMillis = o.exportIntervalMs ?? envMs(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? 10_000;
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
        exportIntervalMillis,
        exportTimeoutMillis: Math.min(envMs(env, 'OTEL_METRIC_EXPORT_TIMEOUT') ?? 30_000, exportIntervalMillis),
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
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }), scheduledDelayMillis: o.spanExportDelayMs ?? envMs(env, 'OTEL_BSP_SCHEDULE_DELAY') ?? 5000 }),
      ],
    });
    trace.setGlobalTracerProvider(tracerProvider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    // The active span follows async work, so a log line written inside a traced step carries its trace (logger.ts).
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }

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
        // The last spans and metrics flush together (each exporter bounded by its own timeout).
        const results = await Promise.allSettled([tracerProvider?.shutdown(), provider.shutdown()]);
        if (tracerProvider) {
          trace.disable();
          propagation.disable();
        }
        metrics.disable();
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}
