// The alerts and the dashboard read metrics the services really produce. Every metric type an alert
// policy or the dashboard names (with the locals they use) must be one that some deployed service's
// code creates, named as the googlemanagedprometheus exporter names it (otel-metrics.ts), or one of
// Pub/Sub's own metrics on the list below, or a log-based metric of the module. And the alerts the
// issue asks for are there: close delay against each tier's target, lost events, backlog age, dead
// letters, late events, windows that stopped closing while events arrive; the dashboard shows
// timeliness per tier, loss, throughput, backlog and dead letters. Offline: HCL reader and a scan of
// services/; what either cannot follow fails.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HclBlock } from './hcl.ts';
import { gmpMetricType, instrumentsByService, instrumentsIn, producedMetricTypes, promName, SERVICES, type Instrument, type Service } from './otel-metrics.ts';
import { address, attr, exprs, locals, loadModule, MODULES, nested, REPO, resources, type Module } from './terraform-config.ts';

const hourglass = loadModule(MODULES.hourglass);
const readSource = (f: string) => readFileSync(f, 'utf8');

/** Pub/Sub's own metrics the alerts and the dashboard may read (no service produces them). */
export const PUBSUB_METRICS: readonly string[] = ['pubsub.googleapis.com/subscription/oldest_unacked_message_age', 'pubsub.googleapis.com/subscription/dead_letter_message_count'];

/** The texts of `blocks` and of every local they use, transitively (but for the locals in `skip`). */
function withLocals(mod: Module, blocks: readonly HclBlock[], skip: ReadonlySet<string> = new Set()): string[] {
  const defs = locals(mod);
  const texts = blocks.flatMap(exprs);
  const seen = new Set<string>(skip);
  for (let i = 0; i < texts.length; i++) {
    for (const m of texts[i]!.matchAll(/\blocal\.(\w+)/g)) {
      const name = m[1]!;
      if (seen.has(name)) continue;
      seen.add(name);
      const def = defs.get(name);
      if (def === undefined) throw new Error(`local.${name} is not defined`);
      texts.push(def);
    }
  }
  return texts;
}

const readers = (mod: Module) => [...resources(mod, 'google_monitoring_alert_policy'), ...resources(mod, 'google_monitoring_dashboard')];

/** The locals of the services' metrics: followed entry by entry (local.otel_filter.<key>), not as a whole. */
const OTEL_LOCALS: ReadonlySet<string> = new Set(['otel_filter', 'otel_metric']);

/** The keys of local.otel_filter a text uses: local.otel_filter.<key>, or local.otel_filter[m] for m in a literal list. Throws on another use. */
function otelKeys(text: string): string[] {
  const keys = [...text.matchAll(/\blocal\.otel_filter\.(\w+)/g)].map((m) => m[1]!);
  const loops = [...text.matchAll(/\bfor\s+(\w+)\s+in\s+\[([^\]]*)\]\s*:/g)];
  for (const m of text.matchAll(/\blocal\.otel_filter\[(\w+)\]/g)) {
    const loop = loops.filter((l) => l[1] === m[1] && l.index! < m.index!).at(-1);
    if (!loop) throw new Error(`local.otel_filter[${m[1]}]: ${m[1]} is not the variable of a literal list loop before it`);
    keys.push(...[...loop[2]!.matchAll(/"([^"]*)"/g)].map((k) => k[1]!));
  }
  if (/\blocal\.(otel_filter|otel_metric)\b(?![.[])/.test(text)) throw new Error('local.otel_filter or local.otel_metric used as a whole: name the metrics');
  return keys;
}

/** Every metric type named by the alert policies and dashboards of `mod`, with where. */
function namedMetrics(mod: Module): { type: string; where: string }[] {
  const out: { type: string; where: string }[] = [];
  const otel = otelMetricMap(mod);
  for (const r of readers(mod)) {
    for (const text of withLocals(mod, [r], OTEL_LOCALS)) {
      for (const m of text.matchAll(/\b[a-z]+\.googleapis\.com\/[^"\\\s]*/g)) out.push({ type: m[0], where: address(r) });
      for (const key of otelKeys(text)) out.push({ type: otel.get(key)?.type ?? `(no entry local.otel_metric.${key})`, where: `${address(r)} (local.otel_filter.${key})` });
    }
  }
  return out;
}

/** local.otel_metric: key → { service, type }. Throws on an entry it cannot read. */
function otelMetricMap(mod: Module): Map<string, { service: string; type: string }> {
  const def = locals(mod).get('otel_metric');
  if (def === undefined) throw new Error('local.otel_metric is not defined');
  const entries = [...def.matchAll(/^\s*(\w+)\s*=\s*\{\s*service\s*=\s*"(\w+)"\s*,\s*type\s*=\s*"([^"$]+)"\s*\}/gm)];
  const all = [...def.matchAll(/^\s*(\w+)\s*=/gm)];
  if (entries.length !== all.length) throw new Error(`local.otel_metric: cannot read every entry as { service = "…", type = "…" } (${entries.length} of ${all.length})`);
  return new Map(entries.map((e) => [e[1]!, { service: e[2]!, type: e[3]! }]));
}

/** Every way the metrics that `mod` reads are not ones the services produce. Empty: all are. */
export function unproducedMetrics(mod: Module, produced: ReadonlyMap<string, ReadonlySet<Service>>): string[] {
  const out: string[] = [];
  const logMetrics = new Set(resources(mod, 'google_logging_metric').map((r) => r.labels[1]));
  for (const { type, where } of namedMetrics(mod)) {
    if (type.startsWith('(no entry ')) out.push(`${where} has ${type.slice(1, -1)}`);
    else if (type.startsWith('prometheus.googleapis.com/')) {
      if (/[${}]/.test(type)) out.push(`${where}: ${type}: a Managed Prometheus metric type must be written out, so that it can be checked`);
      else if (!produced.has(type)) out.push(`${where}: ${type} is produced by no service (services/**: no instrument is named so)`);
    } else if (type.startsWith('pubsub.googleapis.com/')) {
      if (!PUBSUB_METRICS.includes(type)) out.push(`${where}: ${type} is not on the list of Pub/Sub metrics read`);
    } else if (type.startsWith('logging.googleapis.com/user/')) {
      const m = /^logging\.googleapis\.com\/user\/\$\{google_logging_metric\.(\w+)\.name\}$/.exec(type);
      if (!m || !logMetrics.has(m[1]!)) out.push(`${where}: ${type} is no log-based metric of the module`);
    } else out.push(`${where}: ${type}: metrics of this kind are neither produced by the services nor on the list of Pub/Sub metrics`);
  }
  // The map the filters are built from: each entry from the service that produces it.
  for (const [key, { service, type }] of otelMetricMap(mod)) {
    if (!(SERVICES as readonly string[]).includes(service)) out.push(`local.otel_metric.${key}: service "${service}" is not deployed`);
    else if (!produced.get(type)?.has(service as Service))
      out.push(`local.otel_metric.${key}: ${type} is not produced by the ${service} (${produced.has(type) ? `but by: ${[...produced.get(type)!].join(', ')}` : 'nor by any service'})`);
  }
  return out;
}

const policy = (mod: Module, name: string) => resources(mod, 'google_monitoring_alert_policy').find((p) => p.labels[1] === name);

/** The condition_threshold blocks of a policy, static or in dynamic "conditions" blocks, with the for_each of the dynamic one. */
function thresholds(p: HclBlock): { t: HclBlock; when: string | undefined }[] {
  const out: { t: HclBlock; when: string | undefined }[] = [];
  for (const c of nested(p, 'conditions')) for (const t of nested(c, 'condition_threshold')) out.push({ t, when: undefined });
  for (const d of p.blocks.filter((b) => b.type === 'dynamic' && b.labels[0] === 'conditions'))
    for (const c of nested(d, 'content')) for (const t of nested(c, 'condition_threshold')) out.push({ t, when: attr(d, 'for_each') });
  return out;
}

const aggregation = (t: HclBlock, name: string) => nested(t, 'aggregations').map((a) => attr(a, name))[0];

/** The alerts the issue asks for, as failures (empty: all there). */
export function missingAlerts(mod: Module): string[] {
  const out: string[] = [];
  const l = locals(mod);
  const need = (name: string, forEach: string | undefined, what: string, check: (p: HclBlock) => string | undefined) => {
    const p = policy(mod, name);
    if (!p) return out.push(`no alert policy ${name} (${what})`);
    const fe = attr(p, 'for_each') ?? attr(p, 'count');
    if (fe !== forEach) out.push(`${name}: for_each/count ${fe ?? 'none'}, expected ${forEach ?? 'none'} (${what})`);
    if (attr(p, 'notification_channels') !== 'var.notification_channels') out.push(`${name}: must notify var.notification_channels`);
    const problem = check(p);
    if (problem) out.push(`${name}: ${problem} (${what})`);
  };
  // Close delay per type, against its tier's target: the checker's histogram (seconds), with the sidecar.
  need('window_close', 'local.types', 'close delay against the tier target', (p) => {
    const t = thresholds(p).find(({ t }) => (attr(t, 'filter') ?? '').includes('${local.otel_filter.close_delay}'));
    if (!t) return 'no condition on local.otel_filter.close_delay';
    if (t.when !== 'var.telemetry_sidecar ? [1] : []') return `the close-delay condition must exist exactly with the sidecar (for_each ${t.when})`;
    if (!(attr(t.t, 'filter') ?? '').includes('metric.labels.type = \\"${each.key}\\"')) return 'the close-delay condition must select its type';
    if (attr(t.t, 'threshold_value') !== 'var.tiers[each.value.tier].close_target_s') return `threshold ${attr(t.t, 'threshold_value')}, not the tier's close_target_s (the histogram is in seconds)`;
    if (aggregation(t.t, 'cross_series_reducer') !== '"REDUCE_PERCENTILE_99"' || aggregation(t.t, 'per_series_aligner') !== '"ALIGN_DELTA"') return 'the p99 of the histogram (ALIGN_DELTA, REDUCE_PERCENTILE_99)';
    return undefined;
  });
  // Lost events: the checker's counter with the sidecar, the log lines without.
  need('events_lost', undefined, 'lost events', (p) => {
    const [t] = thresholds(p);
    if (!t || attr(t.t, 'filter') !== 'local.events_lost_filter') return 'its condition must read local.events_lost_filter';
    if (!/^var\.telemetry_sidecar \? local\.otel_filter\.events_lost : /.test(l.get('events_lost_filter') ?? '')) return 'local.events_lost_filter must be local.otel_filter.events_lost with the sidecar';
    if (attr(t.t, 'threshold_value') !== '0' || aggregation(t.t, 'per_series_aligner') !== '"ALIGN_DELTA"') return 'any lost event (ALIGN_DELTA > 0)';
    return undefined;
  });
  // Backlog age: Pub/Sub's oldest unacked message on every worker subscription, against the tier's limit.
  need('delivery', 'local.types', 'backlog age', (p) => {
    const ok = thresholds(p).some(
      ({ t }) =>
        (attr(t, 'filter') ?? '').includes('google_pubsub_subscription.worker[each.key].name') &&
        (attr(t, 'filter') ?? '').includes('pubsub.googleapis.com/subscription/oldest_unacked_message_age') &&
        attr(t, 'threshold_value') === 'var.tiers[each.value.tier].oldest_unacked_s',
    );
    return ok ? undefined : 'no condition on the oldest unacked message of the worker subscription against the tier\'s oldest_unacked_s';
  });
  const onMetric = (name: string, forEach: string, what: string, key: string, more: (t: HclBlock) => string | undefined = () => undefined) =>
    need(name, forEach, what, (p) => {
      const t = thresholds(p).find(({ t }) => (attr(t, 'filter') ?? '').includes(`local.otel_filter.${key}`));
      return t ? more(t.t) : `no condition on local.otel_filter.${key}`;
    });
  onMetric('worker_dead_letters', 'var.telemetry_sidecar ? 1 : 0', 'dead letters', 'messages_dead_lettered');
  onMetric('late_events', 'var.telemetry_sidecar ? 1 : 0', 'late events', 'events_late', (t) => (attr(t, 'threshold_value') === 'var.late_events_threshold' ? undefined : 'threshold must be var.late_events_threshold'));
  need('windows_stalled', 'var.telemetry_sidecar ? local.types : {}', 'windows stopped closing while events arrive', (p) => {
    if (attr(p, 'combiner') !== '"AND"') return 'both conditions must hold (combiner AND)';
    const ts = thresholds(p).map(({ t }) => attr(t, 'filter') ?? '');
    if (!ts.some((f) => f.includes('${local.otel_filter.oldest_open_window_age} AND metric.labels.type = \\"${each.key}\\"'))) return 'no condition on the type\'s oldest open window';
    if (!ts.some((f) => f.includes('${local.otel_filter.events_staged} AND metric.labels.type = \\"${each.key}\\"'))) return 'no condition on the type\'s staged events';
    if (!/^\{ for t, c in local\.types : t => var\.window_s \+ c\.maxWaitS \+ var\.staging_age_margin_s \}$/.test(l.get('stalled_window_age_s') ?? '')) return 'the age limit must be a window length, the type\'s max wait and the margin';
    if (!ts.some((f) => f.includes('oldest_open_window_age')) || !thresholds(p).some(({ t }) => attr(t, 'threshold_value') === 'local.stalled_window_age_s[each.key]')) return 'the oldest open window must be compared with local.stalled_window_age_s[each.key]';
    return undefined;
  });
  return out;
}

/** The dashboard, as failures (empty: there, per deployment, with every chart). */
export function missingDashboard(mod: Module): string[] {
  const ds = resources(mod, 'google_monitoring_dashboard');
  if (ds.length !== 1) return [`one google_monitoring_dashboard per deployment, found ${ds.length}`];
  const d = ds[0]!;
  if (attr(d, 'count') !== undefined || attr(d, 'for_each') !== undefined) return ['the dashboard must exist once per deployment (no count or for_each)'];
  const text = withLocals(mod, [d]).join('\n');
  const out: string[] = [];
  const shows = (what: string, ...needles: (string | RegExp)[]) => {
    for (const n of needles) if (typeof n === 'string' ? !text.includes(n) : !n.test(text)) out.push(`the dashboard lacks ${what}: ${n}`);
  };
  shows('timeliness per tier (close delay p50 and p99)', 'local.otel_filter.close_delay', '"REDUCE_PERCENTILE_50"', '"REDUCE_PERCENTILE_99"', /for tier, types in local\.tier_types/, 'var.tiers[tier].close_target_s');
  const listed = (keys: string[]) => new RegExp(`for m in \\[${keys.map((k) => `"${k}"`).join(',\\s*')}\\][\\s\\S]*?local\\.otel_filter\\[m\\]`);
  shows('loss (lost, abandoned and late events)', listed(['events_lost', 'events_abandoned', 'events_late']));
  shows('throughput (events accepted, staged, closed)', listed(['events_accepted', 'events_staged', 'events_closed']));
  shows('backlog (oldest unacked message of the worker subscriptions)', 'pubsub.googleapis.com/subscription/oldest_unacked_message_age', 'local.worker_subscription_name');
  shows('dead letters (the worker\'s and Pub/Sub\'s)', 'local.otel_filter.messages_dead_lettered', 'pubsub.googleapis.com/subscription/dead_letter_message_count');
  return out;
}

/** What the services produce, scanned once (inside the tests, so that a scan that cannot follow the code fails them, saying where). */
let scanned: Map<string, Set<Service>> | undefined;
const produced = () => (scanned ??= producedMetricTypes(instrumentsByService(readSource)));

/** A copy of the module with one local's definition changed. */
function withLocal(mod: Module, name: string, change: (expr: string) => string): Module {
  return {
    dir: mod.dir,
    blocks: mod.blocks.map((b) => {
      if (b.type !== 'locals' || !b.attributes.has(name)) return b;
      const a = b.attributes.get(name)!;
      const changed = change(a.expr);
      assert.notEqual(changed, a.expr, `local.${name} unchanged`);
      return { ...b, attributes: new Map([...b.attributes, [name, { ...a, expr: changed }]]) };
    }),
  };
}

const without = (mod: Module, type: string, name: string): Module => ({ dir: mod.dir, blocks: mod.blocks.filter((b) => !(b.type === 'resource' && b.labels[0] === type && b.labels[1] === name)) });

describe('infra: the services\' metrics, as Cloud Monitoring names them', () => {
  it('reads every instrument the deployed services create, from their code', () => {
    const by = instrumentsByService(readSource);
    const names = (s: Service) => new Set(by.get(s)!.map((i) => i.name));
    for (const n of ['hourglass.checker.close.delay', 'hourglass.checker.events.lost', 'hourglass.checker.events.late', 'hourglass.checker.oldest_open_window.age', 'hourglass.checker.windows.closed']) assert.ok(names('checker').has(n), n);
    for (const n of ['hourglass.worker.messages_dead_lettered', 'hourglass.worker.events_staged']) assert.ok(names('worker').has(n), n);
    for (const n of ['hourglass.gateway.events.accepted', 'hourglass.sdk.events.accepted']) assert.ok(names('gateway').has(n), `${n} (the SDK runs in the gateway)`);
    assert.ok(!names('worker').has('hourglass.checker.close.delay'), 'the worker does not create the checker\'s instruments');
    const closeDelay = by.get('checker')!.find((i) => i.name === 'hourglass.checker.close.delay')!;
    assert.deepEqual([closeDelay.kind, closeDelay.unit], ['histogram', 's']);
    assert.deepEqual(by.get('worker')!.find((i) => i.name === 'hourglass.worker.bytes_staged')!.unit, 'By', 'a helper\'s unit argument');
    assert.deepEqual(by.get('worker')!.find((i) => i.name === 'hourglass.worker.events_staged')!.unit, '{event}', 'a helper\'s unit argument, a count\'s annotation');
    assert.deepEqual(by.get('gateway')!.find((i) => i.name === 'hourglass.sdk.publish.latency')!.unit, 's', 'publish latency in seconds');
    assert.deepEqual(instrumentsIn("const c = (name: string, unit = '{event}') => meter.createCounter(`x.${name}`, { unit });\nc('a');\nc('b', 'By');\n", 'f.ts').map((i) => [i.name, i.unit]), [['x.a', '{event}'], ['x.b', 'By']], 'a helper\'s default unit');
  });

  it('names them as the googlemanagedprometheus exporter does', () => {
    const t = (name: string, unit: string, kind: Instrument['kind']) => gmpMetricType({ name, unit, kind });
    assert.equal(t('hourglass.checker.close.delay', 's', 'histogram'), 'prometheus.googleapis.com/hourglass_checker_close_delay_seconds/histogram');
    assert.equal(t('hourglass.checker.events.lost', '', 'counter'), 'prometheus.googleapis.com/hourglass_checker_events_lost_total/counter');
    assert.equal(t('hourglass.worker.messages_dead_lettered', '1', 'counter'), 'prometheus.googleapis.com/hourglass_worker_messages_dead_lettered_total/counter');
    assert.equal(t('hourglass.checker.oldest_open_window.age', 's', 'gauge'), 'prometheus.googleapis.com/hourglass_checker_oldest_open_window_age_seconds/gauge');
    assert.equal(t('hourglass.checker.windows', '1', 'gauge'), 'prometheus.googleapis.com/hourglass_checker_windows_ratio/gauge');
    assert.equal(t('hourglass.sdk.publish.latency', 's', 'histogram'), 'prometheus.googleapis.com/hourglass_sdk_publish_latency_seconds/histogram');
    assert.equal(t('hourglass.sdk.publish.latency', 'ms', 'histogram'), 'prometheus.googleapis.com/hourglass_sdk_publish_latency_milliseconds/histogram');
    assert.equal(t('hourglass.checker.events.lost', '{event}', 'counter'), 'prometheus.googleapis.com/hourglass_checker_events_lost_total/counter', 'a count\'s annotation adds nothing');
    assert.equal(t('http.server.request.duration', 's', 'histogram'), 'prometheus.googleapis.com/http_server_request_duration_seconds/histogram');
    assert.equal(t('hourglass.worker.bytes_staged', 'By', 'counter'), 'prometheus.googleapis.com/hourglass_worker_bytes_staged_total/counter', 'a unit word already in the name is not added again');
    assert.equal(t('hourglass.worker.memory.heap_total', 'By', 'gauge'), 'prometheus.googleapis.com/hourglass_worker_memory_heap_total_bytes/gauge', 'a gauge keeps "total"');
    assert.equal(t('requests.total.count', '', 'counter'), 'prometheus.googleapis.com/requests_count_total/counter', 'a counter\'s "total" moves to the end');
    assert.equal(t('queue.depth', '{messages}', 'updowncounter'), 'prometheus.googleapis.com/queue_depth/gauge', 'an up-down counter is a gauge; a unit in braces adds nothing');
    assert.equal(promName({ name: 'io.rate', unit: 'By/s', kind: 'gauge' }), 'io_rate_bytes_per_second');
  });

  it('fails on a name the scan cannot follow, rather than leaving it out', () => {
    assert.throws(() => instrumentsIn("const n = 'x';\nmeter.createCounter(n);\n", 'f.ts'), /neither a literal nor/);
    assert.throws(() => instrumentsIn('const c = (name: string) => meter.createCounter(`a.${name}`);\nc(someName);\n', 'f.ts'), /not a literal/);
    assert.deepEqual(instrumentsIn('// meter.createCounter(\'in.a.comment\')\nmeter.createCounter(\'real\', { unit: \'s\' });\n', 'f.ts').map((i) => [i.name, i.unit]), [['real', 's']]);
  });
});

describe('infra: alerts and the dashboard read metrics the services produce', () => {
  it('every metric an alert or the dashboard names is produced by some service, is Pub/Sub\'s own, or is a log-based metric of the module', () => {
    const named = namedMetrics(hourglass);
    assert.ok(named.some((n) => n.type.startsWith('prometheus.googleapis.com/')), 'the alerts read the services\' metrics');
    assert.deepEqual(unproducedMetrics(hourglass, produced()), []);
  });

  it('selects each metric from this deployment\'s service that produces it (namespace = var.name, job = the SDK\'s service.name)', () => {
    const filter = locals(hourglass).get('otel_filter') ?? '';
    assert.match(filter, /^\{ for k, m in local\.otel_metric : k => "metric\.type = \\"\$\{m\.type\}\\" AND resource\.type = \\"prometheus_target\\" AND resource\.labels\.namespace = \\"\$\{var\.name\}\\" AND resource\.labels\.job = \\"hourglass-\$\{m\.service\}\\"" \}$/);
    // job: the service.name the services' SDK sets.
    assert.match(readFileSync(join(REPO, 'services', 'telemetry', 'telemetry.ts'), 'utf8'), /'service\.name': `hourglass-\$\{o\.service\}`/);
    for (const s of SERVICES) assert.match(readFileSync(join(REPO, 'services', s, 'main.ts'), 'utf8'), new RegExp(`startTelemetry\\(\\{ service: '${s}'`), `${s} names itself ${s}`);
    // namespace: the collector sets it, in the metrics pipeline.
    const config = locals(hourglass).get('collector_config') ?? '';
    assert.match(config, /"resource\/deployment" = \{ attributes = \[\{ key = "namespace", value = var\.name, action = "upsert" \}\] \}/);
    assert.match(config, /metrics = \{ receivers = \["otlp"\], processors = \[[^\]]*"resource\/deployment"[^\]]*\], exporters = \["googlemanagedprometheus"\] \}/);
    assert.match(config, /traces\s+= \{ receivers = \["otlp"\], processors = \[[^\]]*\], exporters = \["googlecloud"\] \}/);
  });

  it('alerts on close delay against each tier\'s target, lost events, backlog age, dead letters, late events, and windows that stopped closing while events arrive', () => {
    assert.deepEqual(missingAlerts(hourglass), []);
  });

  it('has a dashboard per deployment: timeliness per tier, loss, throughput, backlog, dead letters', () => {
    assert.deepEqual(missingDashboard(hourglass), []);
  });

  describe('fails when', () => {
    const renamed = (file: string, from: string, to: string) => (f: string) => {
      const src = readSource(f);
      if (!f.endsWith(file)) return src;
      assert.ok(src.includes(from), `${file} has no ${from}`);
      return src.replace(from, to);
    };
    const cases: [string, () => string[], RegExp][] = [
      ['the code renames a metric an alert reads', () => unproducedMetrics(hourglass, producedMetricTypes(instrumentsByService(renamed('checker/checker-metrics.ts', "counter('events.lost'", "counter('events.missing'")))), /hourglass_checker_events_lost_total\/counter is produced by no service/],
      ['the code changes a metric\'s unit', () => unproducedMetrics(hourglass, producedMetricTypes(instrumentsByService(renamed('checker/checker-metrics.ts', "unit: 's',\n      advice: { explicitBucketBoundaries: [0.5", "unit: 'ms',\n      advice: { explicitBucketBoundaries: [0.5")))), /hourglass_checker_close_delay_seconds\/histogram is produced by no service/],
      ['the worker renames its dead-letter counter (a helper\'s argument)', () => unproducedMetrics(hourglass, producedMetricTypes(instrumentsByService(renamed('worker/worker-stats.ts', "counter('messages_dead_lettered'", "counter('dead_letters'")))), /hourglass_worker_messages_dead_lettered_total\/counter is produced by no service/],
      ['an alert names a metric with a typo', () => unproducedMetrics(withLocal(hourglass, 'otel_metric', (e) => e.replace('hourglass_checker_events_late_total', 'hourglass_checker_late_events_total')), produced()), /hourglass_checker_late_events_total\/counter is produced by no service/],
      ['a metric is looked for on the wrong service', () => unproducedMetrics(withLocal(hourglass, 'otel_metric', (e) => e.replace('events_staged          = { service = "worker"', 'events_staged          = { service = "checker"')), produced()), /events_staged: .* is not produced by the checker \(but by: worker\)/],
      ['an alert reads a Pub/Sub metric not on the list', () => unproducedMetrics(withLocal(hourglass, 'worker_subscriptions', (e) => `${e} # pubsub.googleapis.com/subscription/num_undelivered_messages`), produced()), /num_undelivered_messages is not on the list/],
      ['an alert reads a metric of another kind', () => unproducedMetrics(withLocal(hourglass, 'otel_metric', (e) => e.replace('prometheus.googleapis.com/hourglass_checker_events_late_total/counter', 'workload.googleapis.com/hourglass.checker.events.late')), produced()), /workload\.googleapis\.com\/hourglass\.checker\.events\.late: metrics of this kind/],
      ['the dashboard charts a key local.otel_metric lacks', () => unproducedMetrics(withLocal(hourglass, 'dashboard_widgets', (e) => e.replace('"events_abandoned"', '"events_dropped"')), produced()), /dashboard\.hourglass \(local\.otel_filter\.events_dropped\) has no entry local\.otel_metric\.events_dropped/],
      ['the stalled-windows alert goes', () => missingAlerts(without(hourglass, 'google_monitoring_alert_policy', 'windows_stalled')), /no alert policy windows_stalled/],
      ['the late-events alert goes', () => missingAlerts(without(hourglass, 'google_monitoring_alert_policy', 'late_events')), /no alert policy late_events/],
      ['the dashboard goes', () => missingDashboard(without(hourglass, 'google_monitoring_dashboard', 'hourglass')), /one google_monitoring_dashboard per deployment, found 0/],
      ['the dashboard loses its loss chart', () => missingDashboard(withLocal(hourglass, 'dashboard_widgets', (e) => e.replace('"events_late"', '"events_closed"'))), /lacks loss/],
    ];
    for (const [what, problems, expected] of cases) it(what, () => assert.match(problems().join('\n'), expected));
    it('the close delay is compared in ms to a target in s', () => {
      const p = policy(hourglass, 'window_close')!;
      const dyn = p.blocks.map((b) => (b.type === 'dynamic' && b.labels[0] === 'conditions' && exprs(b).some((e) => e.includes('local.otel_filter.close_delay')) ? { ...b, blocks: nested(b, 'content').map((c) => ({ ...c, blocks: nested(c, 'condition_threshold').map((t) => ({ ...t, attributes: new Map([...t.attributes, ['threshold_value', { name: 'threshold_value', expr: 'var.tiers[each.value.tier].close_target_s * 1000', line: 0 }]]) })) })) } : b));
      const mod: Module = { dir: hourglass.dir, blocks: hourglass.blocks.map((b) => (b === p ? { ...p, blocks: dyn } : b)) };
      assert.match(missingAlerts(mod).join('\n'), /not the tier's close_target_s/);
    });
  });
});
