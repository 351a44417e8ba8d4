// A real OpenTelemetry Collector for tests: .cache/bin/otelcol-hourglass (scripts/setup.sh builds it), its OTLP/HTTP receiver on a free
// loopback port, its file exporter writing every trace and metric export it receives as OTLP JSON lines; the test reads them back.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/local-stack/free-port.ts';
import { startGroup } from '../../services/local-stack/process-group.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The collector binary: env OTELCOL_BIN, else what scripts/setup.sh builds. */
export const COLLECTOR_BIN = process.env.OTELCOL_BIN || path.join(REPO_ROOT, '.cache/bin/otelcol-hourglass');

export type AttributeValue = string | number | boolean | undefined;

export interface ReceivedSpan {
  readonly service: string;
  readonly scope: string;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Record<string, AttributeValue>;
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string; readonly attributes: Record<string, AttributeValue> }>;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number;
}

export interface ReceivedPoint {
  readonly attributes: Record<string, AttributeValue>;
  /** A sum's or gauge's value; a histogram's count. */
  readonly value: number;
}

export interface ReceivedMetric {
  readonly service: string;
  readonly scope: string;
  readonly name: string;
  readonly unit: string;
  readonly kind: 'sum' | 'gauge' | 'histogram' | 'other';
  readonly points: readonly ReceivedPoint[];
}

export interface Collector {
  /** OTLP/HTTP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly endpoint: string;
  /** Every span received so far. */
  spans(): Promise<ReceivedSpan[]>;
  /** Every metric export received so far (a metric appears once per export). */
  metrics(): Promise<ReceivedMetric[]>;
  /** Polls until `find` returns something from what was received; fails after `timeoutMs` naming `what` and what did arrive. */
  waitForSpan(what: string, find: (s: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  waitForMetric(what: string, find: (m: ReceivedMetric) => boolean, timeoutMs?: number): Promise<ReceivedMetric>;
  stderr(): string;
  stop(): Promise<void>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type OtlpAttribute = { key: string; value?: OtlpValue };

function attrs(list: readonly OtlpAttribute[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : (value?.doubleValue ?? value?.boolValue));
  }
  return out;
}

interface OtlpLine {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: OtlpSpan[] }> }>;
  resourceMetrics?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeMetrics?: Array<{ scope?: { name?: string }; metrics?: OtlpMetric[] }> }>;
}
interface OtlpSpan {
  name: string;
  kind?: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: OtlpAttribute[];
  links?: Array<{ traceId: string; spanId: string; attributes?: OtlpAttribute[] }>;
  status?: { code?: number };
}
type OtlpPoint = { attributes?: OtlpAttribute[]; asInt?: string | number; asDouble?: number; count?: string | number };
interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints?: OtlpPoint[] };
  gauge?: { dataPoints?: OtlpPoint[] };
  histogram?: { dataPoints?: OtlpPoint[] };
}

const point = (p: OtlpPoint): ReceivedPoint => ({ attributes: attrs(p.attributes), value: Number(p.asInt ?? p.asDouble ?? p.count ?? NaN) });

/** Starts the collector; it listens before this resolves. */
export async function startCollector(): Promise<Collector> {
  if (!existsSync(COLLECTOR_BIN)) throw new Error(`no OpenTelemetry Collector at ${COLLECTOR_BIN}: run scripts/setup.sh (it builds .cache/bin/otelcol-hourglass), or set OTELCOL_BIN`);
  // Its own directory, removed by stop() (not tempDir(): that one goes when the hook that made it ends).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-otelcol-'));
  const port = await freePort();
  const out = path.join(dir, 'otlp.jsonl');
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  file:',
      `    path: ${JSON.stringify(out)}`,
      '    flush_interval: 100ms',
      'service:',
      '  telemetry:',
      '    metrics:',
      '      level: none', // no self-metrics server on :8888
      '  pipelines:',
      '    traces: { receivers: [otlp], exporters: [file] }',
      '    metrics: { receivers: [otlp], exporters: [file] }',
      '',
    ].join('\n'),
  );
  // Its own process group, killed when this process exits even after a failed test (process-group.ts).
  const group = startGroup(COLLECTOR_BIN, [`--config=${config}`]);
  let stderr = '';
  group.child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited: number | null | undefined;
  const exit = group.exited.then((code) => void (exited = code));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    // Any answer (405 to a GET) means it listens; an exit (a bad config, a port taken meanwhile) fails at once.
    const listening = waitUntil('the collector to listen', () => fetch(`${endpoint}/v1/traces`).then(() => true, () => false), 30_000, 50);
    await Promise.race([listening, exit.then(() => Promise.reject(new Error(`the collector exited (${exited}) before listening:\n${stderr}`)))]);
  } catch (err) {
    await group.stop(0);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const lines = async (): Promise<OtlpLine[]> => {
    const text = await readFile(out, 'utf8').catch(() => '');
    // The last line may be half-written.
    return text.split('\n').flatMap((l) => {
      try {
        return l.trim() ? [JSON.parse(l) as OtlpLine] : [];
      } catch {
        return [];
      }
    });
  };
  const spans = async () =>
    (await lines()).flatMap((l) =>
      (l.resourceSpans ?? []).flatMap((rs) =>
        (rs.scopeSpans ?? []).flatMap((ss) =>
          (ss.spans ?? []).map(
            (s): ReceivedSpan => ({
              service: String(attrs(rs.resource?.attributes)['service.name']),
              scope: ss.scope?.name ?? '',
              name: s.name,
              kind: s.kind ?? 0,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              attributes: attrs(s.attributes),
              links: (s.links ?? []).map((k) => ({ traceId: k.traceId, spanId: k.spanId, attributes: attrs(k.attributes) })),
              status: s.status?.code ?? 0,
            }),
          ),
        ),
      ),
    );
  const metrics = async () =>
    (await lines()).flatMap((l) =>
      (l.resourceMetrics ?? []).flatMap((rm) =>
        (rm.scopeMetrics ?? []).flatMap((sm) =>
          (sm.metrics ?? []).map(
            (m): ReceivedMetric => ({
              service: String(attrs(rm.resource?.attributes)['service.name']),
              scope: sm.scope?.name ?? '',
              name: m.name,
              unit: m.unit ?? '',
              kind: m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : 'other',
              points: (m.sum ?? m.gauge ?? m.histogram)?.dataPoints?.map(point) ?? [],
            }),
          ),
        ),
      ),
    );
  const waitFor = async <T extends { name: string; service: string }>(kind: string, read: () => Promise<T[]>, what: string, find: (x: T) => boolean, timeoutMs: number): Promise<T> => {
    let found: T | undefined;
    try {
      await waitUntil(what, async () => (found = (await read()).find(find)) !== undefined, timeoutMs, 100);
    } catch (err) {
      const seen = [...new Set((await read()).map((x) => `${x.service} ${x.name}`))].sort();
      throw new Error(`${(err as Error).message}\n${kind} received: ${seen.join(', ') || 'none'}\ncollector stderr:\n${stderr.slice(-4000)}`, { cause: err });
    }
    return found!;
  };
  return {
    endpoint,
    spans,
    metrics,
    waitForSpan: (what, find, timeoutMs = 30_000) => waitFor('spans', spans, what, find, timeoutMs),
    waitForMetric: (what, find, timeoutMs = 30_000) => waitFor('metrics', metrics, what, find, timeoutMs),
    stderr: () => stderr,
    stop: async () => {
      await group.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The env that points a service's telemetry at the collector, exporting often. */
export function otlpEnv(collector: Collector): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_METRIC_EXPORT_INTERVAL: '250', OTEL_BSP_SCHEDULE_DELAY: '100' };
}
