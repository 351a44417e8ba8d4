// Turns on the OpenTelemetry SDK for a service: metrics in Prometheus format for /metrics, and OTLP when configured.
//
// Every part records through @opentelemetry/api (no-op until this runs), so libraries and tests can
// use the instruments without caring whether anything exports them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';

export interface TelemetryOptions {
  /** Service name, e.g. "worker"; exported as service.name hourglass-<service>. */
  readonly service: string;
  /** OTLP/HTTP endpoint base (e.g. http://collector:4318). Env OTEL_EXPORTER_OTLP_ENDPOINT. Default: none (Prometheus only). */
  readonly otlpEndpoint?: string;
  /** OTLP export interval (ms). Default: 10000. */
  readonly exportIntervalMs?: number;
}

export interface Telemetry {
  /** Serves the Prometheus text format. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  /** Flushes and stops exporting; idempotent. */
  shutdown(): Promise<void>;
}

export function startTelemetry(o: TelemetryOptions): Telemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  if (o.otlpEndpoint) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${o.otlpEndpoint.replace(/\/$/, '')}/v1/metrics` }),
        exportIntervalMillis: o.exportIntervalMs ?? 10_000,
      }),
    );
  }
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': `hourglass-${o.service}` }), readers });
  metrics.setGlobalMeterProvider(provider);
  let stopping: Promise<void> | undefined;
  return {
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => {
      stopping ??= provider.shutdown().finally(() => metrics.disable());
      return stopping;
    },
  };
}
