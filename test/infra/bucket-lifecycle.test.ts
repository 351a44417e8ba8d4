// Nothing that holds events is deleted by age: no lifecycle rule of the bucket reaches staging/ (unproven data),
// the closed hours, late/ or checker/, and dead letters (the worker's and Pub/Sub's undeliverable/ files) only
// when deadletter_expire_days is set, which it is not by default. Staging that outlives its type's max wait
// raises an alert instead, on the line the checker logs (services/checker/staging-age-report.ts). Offline:
// the rules are read with the HCL reader and evaluated for given variable values; what it cannot follow fails.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STAGING_AGE_LOG_CODE, STAGING_OVER_MAX_WAIT_FIELD } from '../../services/checker/staging-age-report.ts';
import type { HclBlock } from './hcl.ts';
import { attr, exprs, locals, loadModule, MODULES, nested, resources, stringDefault, type Module } from './terraform-config.ts';

const hourglass = loadModule(MODULES.hourglass);
const TYPES = ['track_played', 'brand_new_type'];

/** Objects of every kind the bucket holds (storage/layout.ts), by what they are. */
const OBJECTS: Record<string, string> = {
  staging: 'staging/track_played/1796558400-3600/w-1.avro',
  'staging manifest': 'staging/track_played/1796558400-3600/w-1.manifest.json',
  'closed hour': 'track_played/dt=2026-11-22/hour=12/part-0.avro',
  'late event': 'late/track_played/dt=2026-11-22/hour=12/late-p-0-10.avro',
  'checker state': 'checker/heartbeats/c.json',
  'client-id digests': 'checker/client-ids/track_played/20261122T120000Z-3600s/closed-abc.json',
  'announcement marker': 'checker/announced/track_played/20261122T120000Z',
  'worker dead letter': 'deadletter/track_played/2026-11-22/x.json',
  'undeliverable dead letter': 'deadletter/track_played/undeliverable/2026-11-22T12:00:00+00:00_abc.avro',
};
const DEAD_LETTERS = ['worker dead letter', 'undeliverable dead letter'];
/**
 * Not events: what may expire (the digests of a closed window's client ids, services/checker/closed-client-ids.ts, and
 * the markers of announced windows, services/checker/window-announcer.ts).
 */
const NOT_EVENTS = ['client-id digests', 'announcement marker'];

interface DeleteRule {
  readonly ageDays: number;
  /** Undefined: the rule has no prefix condition, so it reaches every object. */
  readonly prefixes: readonly string[] | undefined;
  readonly line: number;
}

/** A variable's value: `vars` if given there, else its default (a number, null, or a string literal). */
function variable(mod: Module, name: string, vars: Readonly<Record<string, number | null>>): number | null {
  if (name in vars) return vars[name]!;
  const v = mod.blocks.find((b) => b.type === 'variable' && b.labels[0] === name);
  if (!v) throw new Error(`var.${name} is not declared`);
  const d = attr(v, 'default');
  if (d === undefined) throw new Error(`var.${name} has no default`);
  if (d === 'null') return null;
  if (/^\d+$/.test(d)) return Number(d);
  throw new Error(`var.${name}: cannot read default ${d}`);
}

/** A number literal or `var.X`; `value` stands for the dynamic block's iterator. */
function numberOf(mod: Module, expr: string | undefined, vars: Readonly<Record<string, number | null>>, value?: number): number {
  if (expr === undefined) throw new Error('a Delete rule without an age');
  if (/^\d+$/.test(expr)) return Number(expr);
  if (expr === 'lifecycle_rule.value' && value !== undefined) return value;
  const v = /^var\.(\w+)$/.exec(expr);
  if (v) {
    const n = variable(mod, v[1]!, vars);
    if (n === null) throw new Error(`age = ${expr} is null`);
    return n;
  }
  throw new Error(`cannot evaluate age = ${expr}`);
}

/** One lifecycle_rule body (a static block or a dynamic block's content), if its action deletes. */
function deleteRule(mod: Module, body: HclBlock, vars: Readonly<Record<string, number | null>>, value?: number): DeleteRule | undefined {
  const [action] = nested(body, 'action');
  const type = action && attr(action, 'type');
  if (type !== '"Delete"') {
    if (type === undefined || !/^"\w+"$/.test(type)) throw new Error(`line ${body.line}: cannot read the rule's action type`);
    return undefined;
  }
  const [condition] = nested(body, 'condition');
  if (!condition) throw new Error(`line ${body.line}: a Delete rule without a condition`);
  const extra = [...condition.attributes.keys()].filter((k) => !['age', 'matches_prefix'].includes(k));
  if (extra.length > 0) throw new Error(`line ${body.line}: cannot follow conditions ${extra.join(', ')}`);
  const prefixExpr = attr(condition, 'matches_prefix');
  let prefixes: string[] | undefined;
  if (prefixExpr !== undefined) {
    if (!/^\[\s*("[^"$%\\]*"\s*,?\s*)*\]$/.test(prefixExpr)) throw new Error(`line ${body.line}: matches_prefix is not a list of plain strings: ${prefixExpr}`);
    prefixes = JSON.parse(prefixExpr.replace(/,\s*\]$/, ']')) as string[];
  }
  return { ageDays: numberOf(mod, attr(condition, 'age'), vars, value), prefixes, line: body.line };
}

/** Every rule of the bucket that deletes objects, for these variable values (defaults for the rest). */
function deleteRules(mod: Module, vars: Readonly<Record<string, number | null>> = {}): DeleteRule[] {
  // The event bucket (the Iceberg warehouse bucket of tables.tf holds no events: Iceberg manages its files).
  const buckets = resources(mod, 'google_storage_bucket').filter((b) => b.labels[1] === 'events');
  assert.equal(buckets.length, 1, 'one event bucket');
  const out: DeleteRule[] = [];
  for (const b of buckets[0]!.blocks) {
    if (b.type === 'lifecycle_rule') {
      const r = deleteRule(mod, b, vars);
      if (r) out.push(r);
    } else if (b.type === 'dynamic' && b.labels[0] === 'lifecycle_rule') {
      // The one form followed: `var.X == null ? [] : [var.X]` (a rule only when X is set).
      const m = /^var\.(\w+) == null \? \[\] : \[var\.(\w+)\]$/.exec(attr(b, 'for_each') ?? '');
      if (!m || m[1] !== m[2]) throw new Error(`dynamic lifecycle_rule: cannot follow for_each = ${attr(b, 'for_each')}`);
      const value = variable(mod, m[1]!, vars);
      const [content] = nested(b, 'content');
      if (!content) throw new Error('dynamic lifecycle_rule without content');
      if (value !== null) {
        const r = deleteRule(mod, content, vars, value);
        if (r) out.push(r);
      }
    }
  }
  return out;
}

/** The kinds of object (OBJECTS) that some rule deletes. */
function deleted(rules: readonly DeleteRule[]): string[] {
  return Object.entries(OBJECTS)
    .filter(([, key]) => rules.some((r) => r.prefixes === undefined || r.prefixes.some((p) => key.startsWith(p))))
    .map(([what]) => what);
}

/** Everything wrong with how the module treats stored events, as failures (empty: nothing). */
function violations(mod: Module): string[] {
  const out: string[] = [];
  const byDefault = deleted(deleteRules(mod)).filter((w) => !NOT_EVENTS.includes(w));
  if (byDefault.length > 0) out.push(`deleted by age by default: ${byDefault.join(', ')}`);
  const withExpiry = deleted(deleteRules(mod, { deadletter_expire_days: 30 })).filter((w) => !NOT_EVENTS.includes(w));
  if (JSON.stringify(withExpiry) !== JSON.stringify(DEAD_LETTERS)) out.push(`with deadletter_expire_days = 30, deleted: ${withExpiry.join(', ') || 'nothing'} (expected exactly the dead letters)`);
  // The retired variable may stay only to say why it must not be set.
  const staging = mod.blocks.find((b) => b.type === 'variable' && b.labels[0] === 'staging_expire_days');
  if (staging) {
    const validation = nested(staging, 'validation').map((v) => attr(v, 'condition'));
    if (attr(staging, 'default') !== 'null' || !validation.includes('var.staging_expire_days == null')) out.push('staging_expire_days: kept, but not as null with a validation refusing any value');
    const uses = mod.blocks.filter((b) => b !== staging && exprs(b).some((e) => e.includes('var.staging_expire_days')));
    if (uses.length > 0) out.push(`staging_expire_days is still used by ${uses.map((b) => b.labels.join('.')).join(', ')}`);
  }
  return out;
}

/** The alert on staging older than its type's max wait, as failures (empty: in place). */
function missingStagingAlert(mod: Module, type: string): string[] {
  const out: string[] = [];
  const l = locals(mod);
  if (stringDefault(mod, 'checker_staging_age_log_code') !== STAGING_AGE_LOG_CODE) out.push(`var.checker_staging_age_log_code must default to the checker's ${STAGING_AGE_LOG_CODE}`);
  if (!(l.get('staging_age_logs') ?? '').includes('jsonPayload.code=\\"${var.checker_staging_age_log_code}\\"')) out.push('local.staging_age_logs must select the checker lines by var.checker_staging_age_log_code');
  const metric = resources(mod, 'google_logging_metric').find((m) => attr(m, 'filter') === `"\${local.staging_age_logs} AND jsonPayload.${STAGING_OVER_MAX_WAIT_FIELD} > \${var.staging_age_margin_s}"`);
  if (!metric) out.push(`a log-based metric counting the lines with ${STAGING_OVER_MAX_WAIT_FIELD} > var.staging_age_margin_s`);
  else {
    if (attr(metric, 'label_extractors') !== '{ type = "EXTRACT(jsonPayload.type)" }') out.push('the staging metric must be labelled by type');
    if (l.get('stale_staging_metric') !== `"logging.googleapis.com/user/\${google_logging_metric.${metric.labels[1]}.name}"`) out.push('local.stale_staging_metric must name the staging metric');
  }
  const policies = resources(mod, 'google_monitoring_alert_policy').filter((p) => attr(p, 'for_each') === 'local.types');
  const policy = policies.find((p) =>
    nested(p, 'conditions').some((c) =>
      nested(c, 'condition_threshold').some((t) => (attr(t, 'filter') ?? '').includes('${local.stale_staging_metric}') && (attr(t, 'filter') ?? '').includes('metric.labels.type = \\"${each.key}\\"') && attr(t, 'comparison') === '"COMPARISON_GT"' && attr(t, 'threshold_value') === '0'),
    ),
  );
  if (!policy) out.push(`an alert per type (for_each = local.types, so ${type} too) on the staging metric of its type`);
  else if (!exprs(policy).some((e) => e.includes('each.value.maxWaitS'))) out.push('the staging alert must say the type\'s max wait (each.value.maxWaitS)');
  return out;
}

describe('infra: the bucket deletes nothing that holds events', () => {
  it('by default, no lifecycle rule deletes staging, closed hours, late events, checker state or dead letters (only the client-id digests and the announcement markers expire)', () => {
    assert.deepEqual(deleted(deleteRules(hourglass)), NOT_EVENTS);
    assert.deepEqual(deleteRules(hourglass).map((r) => [r.prefixes, r.ageDays]), [[['checker/client-ids/'], 7], [['checker/announced/'], 30]]);
    assert.equal(variable(hourglass, 'deadletter_expire_days', {}), null, 'dead letters never expire by default');
  });

  it('deadletter_expire_days, when set, deletes the dead letters (undeliverable/ included) and nothing else', () => {
    const rules = deleteRules(hourglass, { deadletter_expire_days: 45 });
    assert.deepEqual(deleted(rules), [...NOT_EVENTS, ...DEAD_LETTERS].sort((a, b) => Object.keys(OBJECTS).indexOf(a) - Object.keys(OBJECTS).indexOf(b)));
    assert.deepEqual(rules.filter((r) => r.prefixes?.[0] === 'deadletter/').map((r) => r.ageDays), [45]);
  });

  it('has no staging expiry to set (staging_expire_days gone, or refusing any value)', () => {
    assert.deepEqual(violations(hourglass), []);
  });

  it('alerts per type on staging older than its max wait, on the line the checker logs', () => {
    for (const t of TYPES) assert.deepEqual(missingStagingAlert(hourglass, t), [], t);
  });

  it('fails when a rule reaches events or the alert goes (the guard guarded)', () => {
    const bucket = resources(hourglass, 'google_storage_bucket').find((b) => b.labels[1] === 'events')!;
    const withRule = (rule: string, defaults: Record<string, string> = {}): Module => {
      const extra: HclBlock = { type: 'lifecycle_rule', labels: [], file: bucket.file, line: 0, attributes: new Map(), blocks: [] };
      const cond: HclBlock = { ...extra, type: 'condition', attributes: new Map(Object.entries({ age: '7', ...(rule ? { matches_prefix: rule } : {}) }).map(([k, v]) => [k, { name: k, expr: v, line: 0 }])) };
      const action: HclBlock = { ...extra, type: 'action', attributes: new Map([['type', { name: 'type', expr: '"Delete"', line: 0 }]]) };
      const blocks = hourglass.blocks.map((b) => {
        if (b === bucket) return { ...b, blocks: [...b.blocks, { ...extra, blocks: [cond, action] }] };
        const d = b.type === 'variable' ? defaults[b.labels[0]!] : undefined;
        return d === undefined ? b : { ...b, attributes: new Map([...b.attributes, ['default', { name: 'default', expr: d, line: 0 }]]) };
      });
      return { dir: hourglass.dir, blocks };
    };
    // Today's main before issue 12: staging/ after 7 days, dead letters after 30.
    assert.deepEqual(deleted(deleteRules(withRule('["staging/"]'))), ['staging', 'staging manifest', ...NOT_EVENTS]);
    assert.match(violations(withRule('["staging/"]')).join('\n'), /deleted by age by default: staging, staging manifest/);
    assert.match(violations(withRule('')).join('\n'), /deleted by age by default: staging, staging manifest, closed hour, late event, checker state, worker dead letter, undeliverable dead letter/);
    assert.match(violations(withRule('["late/"]')).join('\n'), /late event/);
    assert.match(violations(withRule('["x/"]', { deadletter_expire_days: '30' })).join('\n'), /deleted by age by default: worker dead letter, undeliverable dead letter/);
    const noAlert: Module = { dir: hourglass.dir, blocks: hourglass.blocks.filter((b) => !(b.type === 'resource' && b.labels[0] === 'google_monitoring_alert_policy' && b.labels[1] === 'staging_age')) };
    assert.match(missingStagingAlert(noAlert, 'track_played').join('\n'), /an alert per type/);
    assert.throws(() => deleteRules({ dir: hourglass.dir, blocks: hourglass.blocks.map((b) => (b === bucket ? { ...b, blocks: b.blocks.map((x) => (x.type === 'dynamic' ? { ...x, attributes: new Map([['for_each', { name: 'for_each', expr: 'local.whatever', line: 0 }]]) } : x)) } : b)) }), /cannot follow/);
  });
});
