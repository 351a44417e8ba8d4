// Settings several services share (the bucket, the window length, the topic prefix, the project, the ops listener, the shutdown budget), declared once so their variable, default and range cannot drift apart.
import { anyText, integer, text, windowLength } from './setting-kinds.ts';
import { setting } from './settings.ts';

export const DEFAULT_LOCATION = 'file://./.hourglass-data';
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 9000;

/** Pub/Sub names start with a letter and use letters, digits and -_.~+%; the type name follows the prefix. */
const TOPIC_PREFIX = /^([A-Za-z][A-Za-z0-9\-_.~+%]{0,100})?$/;

export const bucket = setting<string>({
  doc: 'The bucket: gs://bucket/prefix, file:///path or a plain path.',
  kind: anyText('gs://bucket/prefix, file:///path or a path'),
  env: ['HOURGLASS_BUCKET'],
  default: DEFAULT_LOCATION,
});

export const gcsEndpoint = setting<string | undefined>({
  doc: "Cloud Storage API endpoint, e.g. fake-gcs-server's http://127.0.0.1:4443.",
  kind: text(/^https?:\/\/\S+$/, 'an http(s) URL'),
  env: ['HOURGLASS_GCS_ENDPOINT'],
  defaultText: "Google's",
});

export const windowS = setting<number>({
  doc: 'Window length; every service of a deployment uses the same.',
  kind: windowLength(),
  env: ['HOURGLASS_WINDOW_S'],
  default: 3600,
});

export const topicPrefix = setting<string>({
  doc: 'Prefix of every topic and subscription name.',
  kind: text(TOPIC_PREFIX, 'empty, or a letter then up to 100 of A-Z a-z 0-9 - _ . ~ + %'),
  env: ['HOURGLASS_TOPIC_PREFIX'],
  default: 'hourglass-',
});

export const project = setting<string>({
  doc: 'Google Cloud project of the topics and subscriptions.',
  kind: text(/^[A-Za-z0-9][A-Za-z0-9.:_-]{0,99}$/, 'a Google Cloud project id (up to 100 of A-Z a-z 0-9 . : _ -)'),
  env: ['HOURGLASS_PROJECT', 'GOOGLE_CLOUD_PROJECT'],
  default: 'hourglass-local',
});

export const pubsubEmulatorHost = setting<string | undefined>({
  doc: 'Pub/Sub emulator host:port. Unset: the real Pub/Sub.',
  kind: text(/^(\[[0-9A-Fa-f:.]+\]|[^:/\s[\]]+):\d{1,5}$/, 'host:port (an IPv6 host in brackets)'),
  env: ['PUBSUB_EMULATOR_HOST'],
  defaultText: 'none',
});

export const schemasDir = setting<string | undefined>({
  doc: 'Folder of event-type schemas (the registry).',
  kind: anyText('a folder path'),
  env: ['HOURGLASS_SCHEMAS_DIR'],
  defaultText: 'the schemas shipped with hourglass',
});

export const shutdownTimeoutMs = setting<number>({
  doc: 'Budget of the whole SIGTERM path, split into a deadline per step; Cloud Run kills 10 s after SIGTERM, so keep it below 10000 there.',
  kind: integer(1, 3_600_000, 'ms'),
  env: ['HOURGLASS_SHUTDOWN_TIMEOUT_MS'],
  default: DEFAULT_SHUTDOWN_TIMEOUT_MS,
});

/** The ops listener of a worker or checker (/health/live, /health/ready, /metrics): Cloud Run's PORT, or HOURGLASS_OPS_PORT locally; none without either. */
export const opsSettings = {
  cloudRunPort: setting<number | undefined>({
    doc: 'Set by Cloud Run: the ops listener serves its probes there, on every interface.',
    kind: integer(1, 65_535),
    env: ['PORT'],
    defaultText: 'none',
  }),
  opsPort: setting<number | undefined>({
    doc: 'Port of the ops listener (/health/live, /health/ready, /metrics); 0 picks a free one.',
    kind: integer(0, 65_535),
    env: ['HOURGLASS_OPS_PORT'],
    default: (r) => r.cloudRunPort as number | undefined,
    defaultText: 'PORT; without it, no ops listener',
  }),
  opsHost: setting<string>({
    doc: 'Address of the ops listener.',
    kind: anyText('an address'),
    env: ['HOURGLASS_OPS_HOST'],
    default: (r) => (r.cloudRunPort === undefined ? '127.0.0.1' : '0.0.0.0'),
    defaultText: '0.0.0.0 with PORT, else 127.0.0.1',
  }),
};

const otlpEndpoint = setting<string | undefined>({
  doc: 'OTLP/HTTP endpoint base for metrics and spans (the collector sidecar on Cloud Run). Unset: metrics on /metrics only, no spans.',
  kind: text(/^https?:\/\/\S+$/, 'an http(s) URL'),
  env: ['OTEL_EXPORTER_OTLP_ENDPOINT'],
  defaultText: 'none',
});

const otlpExportIntervalMs = setting<number>({
  doc: 'Interval between two OTLP metric exports.',
  kind: integer(100, 3_600_000, 'ms'),
  env: ['OTEL_METRIC_EXPORT_INTERVAL'],
  default: 10_000,
});

const otlpExportTimeoutMs = setting<number>({
  doc: 'Time limit of one OTLP metric export (at most the interval).',
  kind: integer(100, 3_600_000, 'ms'),
  env: ['OTEL_METRIC_EXPORT_TIMEOUT'],
  default: 30_000,
});

const spanExportDelayMs = setting<number>({
  doc: 'Delay between two span exports.',
  kind: integer(10, 3_600_000, 'ms'),
  env: ['OTEL_BSP_SCHEDULE_DELAY'],
  default: 5000,
});

/** OpenTelemetry export settings (the standard OTEL_* variables), the same for every service. */
export const telemetrySettings = { otlpEndpoint, otlpExportIntervalMs, otlpExportTimeoutMs, spanExportDelayMs };

/** The telemetry options (services/telemetry/telemetry.ts) of resolved telemetry settings. */
export function telemetryOptionsOf(r: { otlpEndpoint?: string; otlpExportIntervalMs: number; otlpExportTimeoutMs: number; spanExportDelayMs: number }) {
  return { otlpEndpoint: r.otlpEndpoint, exportIntervalMs: r.otlpExportIntervalMs, exportTimeoutMs: r.otlpExportTimeoutMs, spanExportDelayMs: r.spanExportDelayMs };
}
