// Proves that every event type in schemas/ gets its Pub/Sub topic, worker subscription (with retry
// and dead-letter policy), dead-letter topic and archive, BigQuery table and alerts, with the names
// the services derive from HOURGLASS_TOPIC_PREFIX: by evaluating the same fileset pattern
// infra/ uses against schemas/ (and against a fixture with an extra type), and by checking that
// each resource kind iterates that set. Offline; terraform (which the machine must have) cross-checks the type set.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { topicNames } from '../../services/wire/topics.ts';
import type { HclBlock } from './hcl.ts';
import {
  EXAMPLE_ENV,
  MODULES,
  REPO,
  TERRAFORM_ENV,
  address,
  attr,
  evalName,
  exprs,
  loadModule,
  locals,
  nested,
  resources,
  terraformMissing,
  typesByFileset,
  type Module,
} from './terraform-config.ts';

const eventTypes = loadModule(MODULES.eventTypes);
const hourglass = loadModule(MODULES.hourglass);
const prefix = 'hourglass-'; // var.topic_prefix's default, checked below
/** The names the services derive (services/wire/topics.ts): Terraform must create exactly these. */
const names = topicNames(prefix);

/** The fileset pattern of modules/event-types, after checking the chain from it to output "types". */
function filesetPattern(): string {
  const l = locals(eventTypes);
  const m = /^fileset\(var\.schemas_dir,\s*"([^"]+)"\)$/.exec(l.get('type_files') ?? '');
  assert.ok(m, 'modules/event-types: local.type_files must be fileset(var.schemas_dir, "<pattern>")');
  assert.match(l.get('raw') ?? '', /^\{\s*for f in local\.type_files\s*:\s*dirname\(f\)\s*=>/, 'local.raw must be keyed by the folder of each matched file');
  assert.match(l.get('types') ?? '', /^\{\s*for (\w+), \w+ in local\.raw\s*:\s*\1\s*=>/, 'local.types must keep local.raw\'s keys');
  const out = eventTypes.blocks.find((b) => b.type === 'output' && b.labels[0] === 'types');
  assert.equal(out && attr(out, 'value'), 'local.types', 'output "types" must be local.types');
  return m[1]!;
}

/** The filter condition of a local that selects from local.types (`{ for t, c in local.types : t => c if COND }`). */
function typeFilter(mod: Module, forEach: string | undefined): string | undefined {
  const l = /^local\.(\w+)$/.exec(forEach ?? '');
  const def = l ? locals(mod).get(l[1]!) : undefined;
  const m = def === undefined ? null : /^\{\s*for (\w+), (\w+) in local\.types\s*:\s*\1\s*=>\s*\2\s+if\s+(.+?)\s*\}$/s.exec(def);
  return m ? m[3] : undefined;
}

/** Per-type resources: `for_each` over local.types, behind one bool switch, or a filter of it. */
function perType(mod: Module, type: string): HclBlock[] {
  return resources(mod, type).filter((r) => {
    const forEach = attr(r, 'for_each') ?? '';
    return /^(var\.\w+ \? )?local\.types( : \{\})?$/.test(forEach) || typeFilter(mod, forEach) !== undefined;
  });
}

function named(mod: Module, type: string, name: string, t: string, nameAttr = 'name'): HclBlock[] {
  return perType(mod, type).filter((r) => {
    const expr = attr(r, nameAttr);
    return expr !== undefined && evalName(mod, expr, t) === name;
  });
}

function refersTo(expr: string | undefined, target: HclBlock): boolean {
  return expr !== undefined && new RegExp(`^${address(target).replace('.', '\\.')}\\[each\\.key\\]\\.(id|name)$`).test(expr);
}

/** Every resource kind one type needs, as failures (empty: all present). */
function missingFor(mod: Module, t: string): string[] {
  const missing: string[] = [];
  const [topic] = named(mod, 'google_pubsub_topic', names.eventTopic(t), t);
  const [dead] = named(mod, 'google_pubsub_topic', names.deadLetterTopic(t), t);
  if (!topic) missing.push(`topic ${names.eventTopic(t)}`);
  if (!dead) missing.push(`dead-letter topic ${names.deadLetterTopic(t)}`);

  const sub = names.workerSubscription(t);
  const worker = named(mod, 'google_pubsub_subscription', sub, t)[0];
  if (!worker) missing.push(`subscription ${sub}`);
  else {
    if (!topic || !refersTo(attr(worker, 'topic'), topic)) missing.push(`${sub} on topic ${names.eventTopic(t)}`);
    for (const a of ['ack_deadline_seconds', 'message_retention_duration']) if (!attr(worker, a)) missing.push(`${sub} ${a}`);
    if (nested(worker, 'retry_policy').length !== 1) missing.push(`${sub} retry_policy`);
    const dlp = nested(worker, 'dead_letter_policy')[0];
    if (!dlp || !dead || !refersTo(attr(dlp, 'dead_letter_topic'), dead) || !attr(dlp, 'max_delivery_attempts')) {
      missing.push(`${sub} dead_letter_policy to ${names.deadLetterTopic(t)}`);
    }
  }

  // A topic with no subscription drops its messages: the dead-letter topic must be drained to deadletter/<type>/.
  const archive = perType(mod, 'google_pubsub_subscription').find((s) => dead && refersTo(attr(s, 'topic'), dead));
  const gcs = archive && nested(archive, 'cloud_storage_config')[0];
  const filePrefix = gcs && attr(gcs, 'filename_prefix');
  if (!filePrefix || !evalName(mod, filePrefix, t).startsWith(`deadletter/${t}/`)) {
    missing.push(`subscription archiving ${names.deadLetterTopic(t)} under deadletter/${t}/`);
  }

  const table = named(mod, 'google_bigquery_table', t, t, 'table_id')[0];
  // The one filter allowed on tables: the type has a closed window (BigQuery reads the schema from it).
  const filter = table && typeFilter(mod, attr(table, 'for_each'));
  const closed = mod.blocks.find((b) => b.type === 'data' && b.labels[0] === 'google_storage_bucket_objects' && b.labels[1] === 'closed_windows');
  if (filter !== undefined) {
    const ok =
      /^var\.bigquery_tables && length\(try\(data\.google_storage_bucket_objects\.closed_windows\[(\w+)\]\.bucket_objects, \[\]\)\) > 0$/.test(filter) &&
      closed !== undefined &&
      attr(closed, 'for_each') === 'var.bigquery_tables ? local.types : {}' &&
      evalName(mod, attr(closed, 'prefix') ?? '""', t) === `${t}/dt=`;
    if (!ok) missing.push(`BigQuery table ${t}: filtered by something else than "has a closed window" (${filter})`);
  }
  const ext = table && nested(table, 'external_data_configuration')[0];
  const hive = ext && nested(ext, 'hive_partitioning_options')[0];
  if (!ext || attr(ext, 'source_format') !== '"AVRO"' || !hive) missing.push(`BigQuery external table ${t} (AVRO, hive partitioned)`);
  else {
    const uris = attr(ext, 'source_uris') ?? '';
    const uri = /^\[(".*")\]$/.exec(uris);
    if (!uri || !evalName(mod, uri[1]!, t, { 'google_storage_bucket.events.name': 'BUCKET' }).startsWith(`gs://BUCKET/${t}/`)) {
      missing.push(`BigQuery table ${t} over gs://<bucket>/${t}/ (the closed hours)`);
    }
    if (attr(hive, 'require_partition_filter') !== 'true') missing.push(`BigQuery table ${t} require_partition_filter`);
  }

  const alerts = perType(mod, 'google_monitoring_alert_policy').map((p) => exprs(p).join('\n'));
  if (!worker || !alerts.some((a) => a.includes('oldest_unacked_message_age') && a.includes(`${address(worker)}[each.key].name`))) {
    missing.push(`alert on the oldest unacked message of ${sub}`);
  }
  if (!alerts.some((a) => a.includes('local.close_delay_metric'))) missing.push(`alert on windows of ${t} not closed in time`);
  return missing;
}

function fixtureSchemas(types: Record<string, object>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hourglass-infra-'));
  for (const [t, config] of Object.entries(types)) {
    mkdirSync(join(dir, t));
    writeFileSync(join(dir, t, 'type.json'), JSON.stringify(config));
    writeFileSync(join(dir, t, 'v1.avsc'), JSON.stringify({ type: 'record', name: t, fields: [] }));
  }
  return dir;
}

describe('infra: per event type', () => {
  const fixture = fixtureSchemas({
    track_played: { owner: 'a', tier: 'high', livenessTimeoutS: 30, maxWaitS: 900, description: '' },
    brand_new_type: { owner: 'b', tier: 'low', livenessTimeoutS: 30, maxWaitS: 60, description: '' },
  });
  mkdirSync(join(fixture, 'not_a_type')); // a folder without type.json is not a type
  writeFileSync(join(fixture, 'not_a_type', 'v1.avsc'), '{}');
  after(() => rmSync(fixture, { recursive: true, force: true }));

  it('reads the types from schemas/<type>/type.json, with no list kept by hand', () => {
    const pattern = filesetPattern();
    assert.deepEqual(typesByFileset(fixture, pattern), ['brand_new_type', 'track_played']);

    const hg = locals(hourglass);
    assert.equal(hg.get('types'), 'module.event_types.types', 'modules/hourglass: local.types must come from module.event_types');
    const call = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'event_types');
    assert.equal(call && attr(call, 'source'), '"../event-types"');
    assert.equal(call && attr(call, 'schemas_dir'), 'var.schemas_dir');

    // The example environment points the module at this repository's schemas/.
    const env = loadModule(EXAMPLE_ENV);
    const use = env.blocks.find((b) => b.type === 'module' && b.labels[0] === 'hourglass');
    const dir = /^"\$\{path\.root\}\/(.+)"$/.exec((use && attr(use, 'schemas_dir')) ?? '');
    assert.ok(dir, 'envs/example must pass schemas_dir = "${path.root}/…"');
    assert.equal(resolve(EXAMPLE_ENV, dir[1]!), join(REPO, 'schemas'));
  });

  it('names Pub/Sub resources as the services do (services/wire/topics.ts)', () => {
    const v = hourglass.blocks.find((b) => b.type === 'variable' && b.labels[0] === 'topic_prefix');
    assert.equal(v && attr(v, 'default'), JSON.stringify(prefix));
    const control = resources(hourglass, 'google_pubsub_topic').find((r) => attr(r, 'for_each') === undefined);
    assert.equal(control && evalName(hourglass, attr(control, 'name')!, ''), names.controlTopic);
    const checker = resources(hourglass, 'google_pubsub_subscription').find((r) => control && attr(r, 'topic') === `${address(control)}.id`);
    assert.equal(checker && evalName(hourglass, attr(checker, 'name')!, ''), names.controlSubscription);
  });

  it('gives every type in schemas/ a topic, subscription, dead letter, table and alerts', () => {
    const types = typesByFileset(join(REPO, 'schemas'), filesetPattern());
    assert.ok(types.length > 0, 'schemas/ holds no type.json: the check would pass on nothing');
    for (const t of types) assert.deepEqual(missingFor(hourglass, t), [], `type ${t}`);
  });

  it('gives a newly added type all of them too', () => {
    for (const t of typesByFileset(fixture, filesetPattern())) assert.deepEqual(missingFor(hourglass, t), [], `type ${t}`);
  });

  it('fails when a resource kind is missing or stops iterating the types', () => {
    // Guards the guard: each mutation below must be reported.
    const without = (drop: (b: HclBlock) => boolean): Module => ({ dir: hourglass.dir, blocks: hourglass.blocks.filter((b) => !drop(b)) });
    const isRes = (b: HclBlock, type: string, name: string): boolean => b.type === 'resource' && b.labels[0] === type && b.labels[1] === name;
    const cases: [string, Module, string][] = [
      ['no worker subscription', without((b) => isRes(b, 'google_pubsub_subscription', 'worker')), `subscription ${names.workerSubscription('track_played')}`],
      ['no BigQuery table', without((b) => isRes(b, 'google_bigquery_table', 'type')), 'BigQuery external table track_played'],
      ['no dead-letter archive', without((b) => isRes(b, 'google_pubsub_subscription', 'dead_archive')), 'subscription archiving'],
    ];
    for (const [what, mod, expected] of cases) {
      assert.ok(missingFor(mod, 'track_played').some((m) => m.startsWith(expected)), what);
    }
  });

  it('agrees with terraform on which folders are types', () => {
    assert.equal(terraformMissing(), undefined);
    // The event-types module has no provider, so `terraform console` evaluates it offline.
    const root = mkdtempSync(join(tmpdir(), 'hourglass-tf-'));
    try {
      writeFileSync(join(root, 'main.tf'), `module "t" {\n  source      = ${JSON.stringify(MODULES.eventTypes)}\n  schemas_dir = ${JSON.stringify(fixture)}\n}\n`);
      const env = TERRAFORM_ENV;
      const init = spawnSync('terraform', ['init', '-backend=false', '-input=false', '-no-color'], { cwd: root, env, encoding: 'utf8' });
      assert.equal(init.status, 0, init.stderr);
      const out = spawnSync('terraform', ['console'], { cwd: root, env, input: 'jsonencode(keys(module.t.types))\n', encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      assert.deepEqual(JSON.parse(JSON.parse(out.stdout.trim()) as string), typesByFileset(fixture, filesetPattern()));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
