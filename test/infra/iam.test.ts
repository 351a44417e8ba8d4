// Least privilege, checked: every IAM grant in infra/ must match an entry of the allow-list below
// (who, which role, on which resource, under which condition). A role wider than a service's job,
// a grant on the wrong resource, a dropped object-prefix condition, a project-level grant or a
// public member fails. Reads the Terraform with the HCL reader; no terraform, no provider.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HclBlock } from './hcl.ts';
import { EXAMPLE_ENV, MODULES, address, attr, loadModule, locals, nested, resources, type Module } from './terraform-config.ts';

const modules = [MODULES.hourglass, MODULES.eventTypes, MODULES.cloudRunService, EXAMPLE_ENV].map(loadModule);
const hourglass = modules[0]!;

/**
 * Who a grant is for. 'services': each of gateway, worker and checker, as its own account (for_each over local.service_accounts).
 * 'console': the status console's account; 'iap-agent': IAP's service agent; 'console-members': var.console.members.
 */
type Principal = 'gateway' | 'worker' | 'checker' | 'services' | 'console' | 'table' | 'iap-agent' | 'console-members' | 'pubsub-agent' | 'gcs-agent' | 'analysts' | 'table-analysts' | 'closed-window-subscribers';

interface Allowed {
  readonly principal: Principal;
  readonly kind: string;
  readonly role: string;
  /** The scope attribute's expression (topic, subscription, bucket, …). */
  readonly scope: RegExp;
  /** Required for grants that iterate (each.key must be an event type, or an analyst). */
  readonly forEach?: string;
  /** When set, a condition is required and may only allow these object prefixes (under the bucket). */
  readonly prefixes?: readonly string[];
  /** The condition may also match the bucket itself (for bucket-level checks). */
  readonly bucketClause?: boolean;
  readonly why: string;
}

const BUCKET = /^google_storage_bucket\.events\.name$/;
/** The console's service, deployed with console.enabled and an image; its name as its IAM resources give it. */
const CONSOLE_SERVICE = /^module\.console\[0\]\.name$/;
/** The console's members: IAP access behind IAP, Cloud Run invoker (internal ingress) without it. */
export const CONSOLE_MEMBERS_IAP = 'local.console_deployed && var.console.iap ? toset(var.console.members) : toset([])';
export const CONSOLE_MEMBERS_INTERNAL = 'local.console_deployed && !var.console.iap ? toset(var.console.members) : toset([])';
/** The Iceberg warehouse bucket (tables.tf): created by the module or named by iceberg_tables.warehouse_bucket. */
const WAREHOUSE = /^local\.warehouse_bucket_name$/;
/** The BigLake Iceberg catalog of the warehouse bucket. */
const CATALOG = /^google_biglake_iceberg_catalog\.tables\[0\]\.name$/;
/** The analysts' grants on the tables exist only with iceberg_tables.enabled. */
export const TABLE_ANALYSTS = 'local.tables_enabled ? toset(var.analyst_members) : toset([])';
/** The grants of the telemetry sidecar exist only with it, once per service. */
const EACH_SERVICE_WITH_SIDECAR = 'var.telemetry_sidecar ? local.service_accounts : {}';

/** The allow-list: anything not here is wider than some service's job. */
export const ALLOWED: readonly Allowed[] = [
  { principal: 'gateway', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.type\[each\.key\]\.(name|id)$/, forEach: 'local.types', why: 'publish events to the type topics' },
  { principal: 'gateway', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.control\.(name|id)$/, why: 'publish heartbeats' },
  { principal: 'gateway', kind: 'google_secret_manager_secret_iam_member', role: 'roles/secretmanager.secretAccessor', scope: /^google_secret_manager_secret\.gateway_keys\.(secret_id|id)$/, why: 'read its keys document' },

  { principal: 'worker', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.worker\[each\.key\]\.(name|id)$/, forEach: 'local.types', why: 'pull its subscriptions' },
  { principal: 'worker', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.staged\.(name|id)$/, why: 'publish staged notices' },
  { principal: 'worker', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectCreator', scope: BUCKET, prefixes: ['staging/', 'deadletter/'], why: 'create staging and dead-letter objects' },

  { principal: 'checker', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.control_checker\.(name|id)$/, why: 'pull heartbeats' },
  { principal: 'checker', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.staged_checker\[count\.index\]\.(name|id)$/, why: 'read its notice slot' },
  { principal: 'checker', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.control\.(name|id)$/, why: 'publish probes, to know how far the control topic has been read' },
  { principal: 'checker', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.closed_windows\.(name|id)$/, why: 'announce closed windows' },
  { principal: 'checker', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectUser', scope: BUCKET, why: 'read staging, write closed hours and late/, delete staging' },

  // The OpenTelemetry Collector beside each service runs as the service: it reads its config, and writes the
  // service's metrics and spans. The two writer roles exist only at project level, and write without reading.
  { principal: 'services', kind: 'google_secret_manager_secret_iam_member', role: 'roles/secretmanager.secretAccessor', scope: /^google_secret_manager_secret\.collector_config\[0\]\.(secret_id|id)$/, forEach: EACH_SERVICE_WITH_SIDECAR, why: 'its collector reads its config' },
  { principal: 'services', kind: 'google_project_iam_member', role: 'roles/monitoring.metricWriter', scope: /^var\.project_id$/, forEach: EACH_SERVICE_WITH_SIDECAR, why: 'its collector writes its metrics (Managed Service for Prometheus)' },
  { principal: 'services', kind: 'google_project_iam_member', role: 'roles/cloudtrace.agent', scope: /^var\.project_id$/, forEach: EACH_SERVICE_WITH_SIDECAR, why: 'its collector writes its spans (Cloud Trace)' },

  // The status console (console.tf): reads the bucket's objects, nothing else. Behind IAP, its members pass IAP and
  // IAP's service agent invokes it; without IAP (internal ingress), its members invoke it. Never the public.
  { principal: 'console', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectViewer', scope: BUCKET, why: 'the status page lists and reads objects' },
  { principal: 'console-members', kind: 'google_iap_web_cloud_run_service_iam_member', role: 'roles/iap.httpsResourceAccessor', scope: CONSOLE_SERVICE, forEach: CONSOLE_MEMBERS_IAP, why: 'open the console through IAP' },
  { principal: 'iap-agent', kind: 'google_cloud_run_v2_service_iam_member', role: 'roles/run.invoker', scope: CONSOLE_SERVICE, why: 'IAP calls the console once a member passed it' },
  { principal: 'console-members', kind: 'google_cloud_run_v2_service_iam_member', role: 'roles/run.invoker', scope: CONSOLE_SERVICE, forEach: CONSOLE_MEMBERS_INTERNAL, why: 'call the internal console without IAP' },

  // The Iceberg table committer (tables.tf, with iceberg_tables.enabled): its subscription, the opted-in types' closed hours
  // (read only), the warehouse bucket, its catalog, and the billing header BigLake's Iceberg API requires.
  { principal: 'table', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.closed_windows_tables\[0\]\.(name|id)$/, why: 'pull closed windows' },
  { principal: 'table', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectViewer', scope: BUCKET, prefixes: ['${t}/'], bucketClause: true, why: 'read the closed hours of the opted-in types' },
  { principal: 'table', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectCreator', scope: BUCKET, prefixes: ['tables/refused/'], why: 'keep the windows it cannot commit, with the reason' },
  { principal: 'table', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectUser', scope: WAREHOUSE, why: 'write, read and delete data files, manifests and metadata' },
  { principal: 'table', kind: 'google_biglake_iceberg_catalog_iam_member', role: 'roles/biglake.editor', scope: CATALOG, why: 'create and commit the tables of its catalog' },
  { principal: 'table', kind: 'google_project_iam_member', role: 'roles/serviceusage.serviceUsageConsumer', scope: /^var\.project_id$/, why: 'name the project in X-Goog-User-Project, as BigLake\'s Iceberg REST API requires' },
  { principal: 'table-analysts', kind: 'google_biglake_iceberg_catalog_iam_member', role: 'roles/biglake.viewer', scope: CATALOG, forEach: TABLE_ANALYSTS, why: 'see the Iceberg tables' },
  { principal: 'table-analysts', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectViewer', scope: WAREHOUSE, forEach: TABLE_ANALYSTS, why: 'read the Iceberg tables\' files (end-user credentials)' },

  { principal: 'pubsub-agent', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.closed_windows_tables_dead\[0\]\.(name|id)$/, why: 'forward the committer\'s dead letters' },
  { principal: 'pubsub-agent', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.closed_windows_tables\[0\]\.(name|id)$/, why: 'ack what it dead-lettered from the committer\'s subscription' },
  { principal: 'pubsub-agent', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.publisher', scope: /^google_pubsub_topic\.dead\[each\.key\]\.(name|id)$/, forEach: 'local.types', why: 'forward to the dead-letter topics' },
  { principal: 'pubsub-agent', kind: 'google_pubsub_subscription_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_subscription\.worker\[each\.key\]\.(name|id)$/, forEach: 'local.types', why: 'ack what it dead-lettered' },
  { principal: 'pubsub-agent', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectCreator', scope: BUCKET, prefixes: ['deadletter/'], bucketClause: true, why: 'archive dead letters' },
  { principal: 'pubsub-agent', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.legacyBucketReader', scope: BUCKET, why: 'bucket metadata for Cloud Storage subscriptions' },

  { principal: 'gcs-agent', kind: 'google_kms_crypto_key_iam_member', role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter', scope: /^var\.kms_key_name$/, why: 'the bucket\'s customer-managed key' },

  { principal: 'analysts', kind: 'google_bigquery_dataset_iam_member', role: 'roles/bigquery.dataViewer', scope: /^google_bigquery_dataset\.events\.dataset_id$/, forEach: 'toset(var.analyst_members)', why: 'see the tables' },
  { principal: 'closed-window-subscribers', kind: 'google_pubsub_topic_iam_member', role: 'roles/pubsub.subscriber', scope: /^google_pubsub_topic\.closed_windows\.(name|id)$/, forEach: 'toset(var.closed_window_subscribers)', why: 'attach their own subscriptions to the closed-windows topic' },
  { principal: 'analysts', kind: 'google_storage_bucket_iam_member', role: 'roles/storage.objectViewer', scope: BUCKET, forEach: 'toset(var.analyst_members)', prefixes: ['${t}/'], bucketClause: true, why: 'read closed hours' },
];

const SCOPE_ATTR: Readonly<Record<string, string>> = {
  google_pubsub_topic_iam_member: 'topic',
  google_pubsub_subscription_iam_member: 'subscription',
  google_storage_bucket_iam_member: 'bucket',
  google_secret_manager_secret_iam_member: 'secret_id',
  google_bigquery_dataset_iam_member: 'dataset_id',
  google_kms_crypto_key_iam_member: 'crypto_key_id',
  google_cloud_run_v2_service_iam_member: 'name',
  google_iap_web_cloud_run_service_iam_member: 'cloud_run_service_name',
  google_biglake_iceberg_catalog_iam_member: 'name',
  // Only the allow-listed telemetry writers pass: any other project-level role has no entry.
  google_project_iam_member: 'project',
};

interface Grant {
  readonly where: string;
  readonly kind: string;
  readonly member: string;
  readonly role: string;
  readonly scope: string;
  readonly forEach: string | undefined;
  readonly condition: string | undefined;
}

/** Every IAM resource of a module, whatever its kind (project, folder, service account…). */
function grantsOf(mod: Module): Grant[] {
  return resources(mod)
    .filter((r) => /_iam_(member|binding|policy|audit_config)$/.test(r.labels[0] ?? ''))
    .map((r: HclBlock) => ({
      where: `${address(r)} (${r.file}:${r.line})`,
      kind: r.labels[0]!,
      member: attr(r, 'member') ?? attr(r, 'members') ?? attr(r, 'policy_data') ?? '',
      role: attr(r, 'role') ?? '',
      scope: attr(r, SCOPE_ATTR[r.labels[0]!] ?? '') ?? '',
      forEach: attr(r, 'for_each'),
      condition: nested(r, 'condition').map((c) => attr(c, 'expression') ?? '')[0],
    }));
}

function principalOf(g: Grant, mod: Module): Principal | undefined {
  const sa = /^google_service_account\.(gateway|worker|checker)\.member$|^"serviceAccount:\$\{google_service_account\.(gateway|worker|checker)\.email\}"$/.exec(g.member);
  if (sa) return (sa[1] ?? sa[2]) as Principal;
  if (g.member === 'local.pubsub_agent') {
    const def = locals(mod).get('pubsub_agent');
    return def === '"serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"' ? 'pubsub-agent' : undefined;
  }
  if (g.member === 'data.google_storage_project_service_account.gcs_agent[0].member') return 'gcs-agent';
  if (g.member === 'google_service_account.console[0].member') return 'console';
  if (g.member === 'google_service_account.table[0].member') return 'table';
  if (g.member === 'each.key' && g.forEach === TABLE_ANALYSTS) return 'table-analysts';
  if (g.member === 'local.iap_agent') {
    const def = locals(mod).get('iap_agent');
    return def === '"serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"' ? 'iap-agent' : undefined;
  }
  if (g.member === 'each.key' && (g.forEach === CONSOLE_MEMBERS_IAP || g.forEach === CONSOLE_MEMBERS_INTERNAL)) return 'console-members';
  // Each service's own account: local.service_accounts maps every service to its account (checked below).
  if (g.member === '"serviceAccount:${each.value}"' && g.forEach !== undefined && /^(var\.\w+ \? )?local\.service_accounts( : \{\})?$/.test(g.forEach)) return 'services';
  if (g.member === 'each.key' && g.forEach === 'toset(var.analyst_members)') return 'analysts';
  if (g.member === 'each.key' && g.forEach === 'toset(var.closed_window_subscribers)') return 'closed-window-subscribers';
  return undefined;
}

/** The string literals of an expression (a plain string, or the pieces of a join(...)), unescaped. */
function literals(expr: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < expr.length; i++) {
    if (expr[i] !== '"') continue;
    let s = '';
    for (i++; i < expr.length && expr[i] !== '"'; i++) {
      if (expr[i] === '\\') i++;
      s += expr[i];
    }
    out.push(s);
  }
  return out;
}

/** Why a condition allows more than `allowed`, or undefined when it does not. */
function conditionProblem(condition: string, allowed: Allowed, mod: Module): string | undefined {
  if (locals(mod).get('object_prefix') !== '"projects/_/buckets/${local.bucket_name}/objects/"') return 'local.object_prefix must name objects of the event bucket';
  const isJoin = condition.startsWith('join(" || "');
  if (isJoin && !/for t in keys\(local\.types\)/.test(condition)) return 'a joined condition must iterate keys(local.types)';
  const clauses = isJoin ? literals(condition).filter((c) => c !== ' || ') : literals(condition).join('').split(' || ').filter((c) => c.trim() !== '');
  // A literal condition must be one string: "a" || "b" at the HCL level is not what IAM sees.
  if (!isJoin && !/^"[^\n]*"$/.test(condition)) return 'condition must be one string';
  let objectClauses = 0;
  for (const clause of clauses.map((c) => c.trim())) {
    if (allowed.bucketClause && clause === 'resource.type == "storage.googleapis.com/Bucket"') continue;
    const m = /^resource\.name\.startsWith\("\$\{local\.object_prefix\}(.*)"\)$/.exec(clause);
    if (!m || !allowed.prefixes!.includes(m[1]!)) return `clause not allowed: ${clause}`;
    objectClauses++;
  }
  return objectClauses === 0 ? 'condition allows no object prefix' : undefined;
}

/** Every way the grants of `mods` exceed the allow-list. Empty: least privilege holds. */
export function violations(mods: readonly Module[]): string[] {
  const out: string[] = [];
  for (const mod of mods) {
    for (const g of grantsOf(mod)) {
      if (!g.kind.endsWith('_iam_member')) {
        out.push(`${g.where}: authoritative ${g.kind} (use *_iam_member on one resource)`);
        continue;
      }
      if (!(g.kind in SCOPE_ATTR)) {
        out.push(`${g.where}: grants on ${g.kind.replace(/_iam_member$/, '')} are not allowed (project-wide or unexpected scope)`);
        continue;
      }
      if (!/^"roles\/[A-Za-z.]+"$/.test(g.role)) {
        out.push(`${g.where}: role must be a literal "roles/…", not ${g.role}`);
        continue;
      }
      const role = JSON.parse(g.role) as string;
      if (/^roles\/(owner|editor|viewer)$/.test(role) || /admin/i.test(role)) out.push(`${g.where}: ${role} is a broad or admin role`);
      const principal = principalOf(g, mod);
      if (!principal) {
        out.push(`${g.where}: unknown member ${g.member}`);
        continue;
      }
      const candidates = ALLOWED.filter((a) => a.principal === principal && a.kind === g.kind && a.role === role && a.scope.test(g.scope));
      if (candidates.length === 0) {
        out.push(`${g.where}: ${principal} may not have ${role} on ${g.scope}`);
        continue;
      }
      const problems = candidates.map((a) => {
        if (a.forEach !== undefined ? g.forEach !== a.forEach : g.forEach !== undefined) return `for_each must be ${a.forEach ?? 'absent'}`;
        if (a.prefixes === undefined) return g.condition === undefined ? undefined : 'unexpected condition';
        if (g.condition === undefined) return `needs a condition limiting it to ${a.prefixes.join(', ')}`;
        return conditionProblem(g.condition, a, mod);
      });
      if (!problems.includes(undefined)) out.push(`${g.where}: ${principal} ${role}: ${problems.join('; ')}`);
    }
  }
  return out;
}

/** A copy of the modules with one resource's attribute or condition replaced. */
function mutate(address_: string, change: (r: HclBlock) => HclBlock): Module[] {
  return modules.map((m) => ({
    dir: m.dir,
    blocks: m.blocks.map((b) => (b.type === 'resource' && address(b) === address_ ? change(b) : b)),
  }));
}

function withAttr(r: HclBlock, name: string, expr: string): HclBlock {
  const attributes = new Map(r.attributes);
  attributes.set(name, { name, expr, line: r.line });
  return { ...r, attributes };
}

function withExtra(block: HclBlock): Module[] {
  return modules.map((m, i) => (i === 0 ? { dir: m.dir, blocks: [...m.blocks, block] } : m));
}

describe('infra: least privilege', () => {
  it('grants every service only what its job needs', () => {
    assert.deepEqual(violations(modules), []);
  });

  it('makes every allow-list entry used (no stale permission kept "just in case")', () => {
    const used = new Set<Allowed>();
    for (const mod of modules) {
      for (const g of grantsOf(mod)) {
        const p = principalOf(g, mod);
        for (const a of ALLOWED) if (a.principal === p && a.kind === g.kind && g.role === JSON.stringify(a.role) && a.scope.test(g.scope)) used.add(a);
      }
    }
    assert.deepEqual(ALLOWED.filter((a) => !used.has(a)).map((a) => `${a.principal} ${a.role}: ${a.why}`), []);
  });

  it('has one service account per service, and each service runs as its own', () => {
    assert.deepEqual(resources(hourglass, 'google_service_account').map((r) => r.labels[1]).sort(), ['checker', 'console', 'gateway', 'table', 'worker']);
    const tableCall = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'table_committer');
    assert.equal(tableCall && attr(tableCall, 'service_account_email'), 'google_service_account.table[0].email');
    const consoleCall = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'console');
    assert.equal(consoleCall && attr(consoleCall, 'service_account_email'), 'google_service_account.console[0].email');
    const accounts = locals(hourglass).get('service_accounts') ?? '';
    for (const s of ['gateway', 'worker', 'checker']) assert.match(accounts, new RegExp(`\\b${s}\\s*=\\s*google_service_account\\.${s}\\.email\\b`));
    const call = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'service');
    assert.equal(call && attr(call, 'for_each'), 'var.image_tag == null ? {} : local.service_accounts');
    assert.equal(call && attr(call, 'service_account_email'), 'each.value');
  });

  it('exposes only the gateway (behind its own token check) and the console behind IAP to the internet', () => {
    const call = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'service');
    assert.equal(call && attr(call, 'public'), 'each.key == "gateway"');
    const consoleCall = hourglass.blocks.find((b) => b.type === 'module' && b.labels[0] === 'console');
    assert.equal(consoleCall && attr(consoleCall, 'public'), undefined, 'the console is never public');
    assert.equal(consoleCall && attr(consoleCall, 'iap'), 'var.console.iap');
    const run = resources(modules[2]!, 'google_cloud_run_v2_service')[0];
    assert.equal(run && attr(run, 'ingress'), 'var.public || var.iap ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"');
    assert.equal(run && attr(run, 'invoker_iam_disabled'), 'var.public');
    assert.equal(run && attr(run, 'iap_enabled'), 'var.iap');
    for (const mod of modules) {
      for (const b of resources(mod)) {
        const text = JSON.stringify([...b.attributes.values()]);
        assert.doesNotMatch(text, /allUsers|allAuthenticatedUsers/, `${address(b)} grants the public`);
      }
    }
  });

  describe('fails when a grant is widened', () => {
    const cases: [string, Module[]][] = [
      ['worker gets objectAdmin', mutate('google_storage_bucket_iam_member.worker_write', (r) => withAttr(r, 'role', '"roles/storage.objectAdmin"'))],
      ['worker loses its prefix condition', mutate('google_storage_bucket_iam_member.worker_write', (r) => ({ ...r, blocks: [] }))],
      [
        'worker may write closed hours',
        mutate('google_storage_bucket_iam_member.worker_write', (r) => ({
          ...r,
          blocks: r.blocks.map((c) => withAttr(c, 'expression', '"resource.name.startsWith(\\"${local.object_prefix}\\")"')),
        })),
      ],
      ['checker gets objectAdmin', mutate('google_storage_bucket_iam_member.checker_objects', (r) => withAttr(r, 'role', '"roles/storage.objectAdmin"'))],
      ['gateway may subscribe', mutate('google_pubsub_topic_iam_member.gateway_publish_control', (r) => withAttr(r, 'role', '"roles/pubsub.editor"'))],
      ['gateway publishes to dead-letter topics', mutate('google_pubsub_topic_iam_member.gateway_publish_type', (r) => withAttr(r, 'topic', 'google_pubsub_topic.dead[each.key].name'))],
      ['worker subscribes to heartbeats', mutate('google_pubsub_subscription_iam_member.worker_subscribe', (r) => withAttr(withAttr(r, 'subscription', 'google_pubsub_subscription.control_checker.name'), 'for_each', 'local.types'))],
      ['checker granted as the worker', mutate('google_storage_bucket_iam_member.checker_objects', (r) => withAttr(r, 'member', 'google_service_account.worker.member'))],
      ['a service gets a project-level role other than the telemetry writers', mutate('google_project_iam_member.metric_writer', (r) => withAttr(r, 'role', '"roles/monitoring.viewer"'))],
      ['the metric writer role granted on another project', mutate('google_project_iam_member.trace_agent', (r) => withAttr(r, 'project', '"some-other-project"'))],
      ['the telemetry writers granted without the sidecar', mutate('google_project_iam_member.metric_writer', (r) => withAttr(r, 'for_each', 'local.service_accounts'))],
      ['the collector config readable by anyone', mutate('google_secret_manager_secret_iam_member.collector_config', (r) => withAttr(withAttr(r, 'member', 'each.key'), 'for_each', 'toset(var.analyst_members)'))],
      ['the services may read the gateway\'s keys', mutate('google_secret_manager_secret_iam_member.collector_config', (r) => withAttr(r, 'secret_id', 'google_secret_manager_secret.gateway_keys.secret_id'))],
      ['the console may write the bucket', mutate('google_storage_bucket_iam_member.console_read', (r) => withAttr(r, 'role', '"roles/storage.objectUser"'))],
      ['the table committer may write the event bucket', mutate('google_storage_bucket_iam_member.table_read_closed_hours', (r) => withAttr(r, 'role', '"roles/storage.objectUser"'))],
      ['the table committer reads staging too', mutate('google_storage_bucket_iam_member.table_read_closed_hours', (r) => ({ ...r, blocks: [] }))],
      ['the table committer is BigLake admin', mutate('google_biglake_iceberg_catalog_iam_member.table_editor', (r) => withAttr(r, 'role', '"roles/biglake.admin"'))],
      ['the table committer is BigLake editor of the project', mutate('google_project_iam_member.table_usage_consumer', (r) => withAttr(r, 'role', '"roles/biglake.editor"'))],
      ['IAP access for anyone', mutate('google_iap_web_cloud_run_service_iam_member.console_members', (r) => withAttr(r, 'member', '"allUsers"'))],
      ['IAP access on another service', mutate('google_iap_web_cloud_run_service_iam_member.console_members', (r) => withAttr(r, 'cloud_run_service_name', 'module.service["checker"].name'))],
      ['IAP access for the members without IAP', mutate('google_iap_web_cloud_run_service_iam_member.console_members', (r) => withAttr(r, 'for_each', 'local.console_deployed ? toset(var.console.members) : toset([])'))],
      ['IAP\'s agent may invoke the checker', mutate('google_cloud_run_v2_service_iam_member.console_iap_invoker', (r) => withAttr(r, 'name', 'module.service["checker"].name'))],
      ['the console\'s members may invoke it behind IAP too (bypassing IAP)', mutate('google_cloud_run_v2_service_iam_member.console_members_invoker', (r) => withAttr(r, 'for_each', 'local.console_deployed ? toset(var.console.members) : toset([])'))],
      [
        'a project-level editor',
        withExtra({ ...hourglass.blocks[0]!, type: 'resource', labels: ['google_project_iam_member', 'x'], blocks: [], attributes: new Map([['role', { name: 'role', expr: '"roles/editor"', line: 1 }], ['member', { name: 'member', expr: 'google_service_account.checker.member', line: 1 }]]) }),
      ],
      [
        'an authoritative binding',
        withExtra({ ...hourglass.blocks[0]!, type: 'resource', labels: ['google_storage_bucket_iam_binding', 'x'], blocks: [], attributes: new Map([['role', { name: 'role', expr: '"roles/storage.objectViewer"', line: 1 }]]) }),
      ],
    ];
    for (const [what, mods] of cases) {
      it(what, () => assert.notDeepEqual(violations(mods), [], what));
    }
  });
});
