// The status console on Cloud Run (infra/modules/hourglass/console.tf), read with the HCL reader (no
// terraform): the console is a service of ../cloud-run-service exactly when console.enabled and an image
// tag; it runs as its own service account, whose only grant is roles/storage.objectViewer on the event
// bucket; behind IAP (console.iap, on by default) Cloud Run's own IAP integration is on, every member
// gets roles/iap.httpsResourceAccessor on the console and IAP's service agent roles/run.invoker; without
// IAP the service is internal only; its probes call /health/live on PORT, which the console's code serves
// and listens on with the environment Terraform gives it. infra/envs/example/tests/plan.tftest.hcl plans
// the same with the real provider schema. Each check is broken on a copy below and must fail.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConsoleOptions } from '../../services/console/console-options.ts';
import { LIVE_PATHS } from '../../services/telemetry/ops-server.ts';
import type { HclBlock } from './hcl.ts';
import { attr, exprs, loadModule, locals, MODULES, nested, REPO, resources, type Module } from './terraform-config.ts';

const hourglass = loadModule(MODULES.hourglass);
const cloudRun = loadModule(MODULES.cloudRunService);
const CONSOLE_APP = readFileSync(join(REPO, 'services', 'console', 'console-app.ts'), 'utf8');

const CONSOLE_SA = 'google_service_account.console[0]';
const CONSOLE_NAME = 'module.console[0].name';
const IAP_AGENT = '"serviceAccount:service-${data.google_project.this.number}@gcp-sa-iap.iam.gserviceaccount.com"';

const block = (mod: Module, type: string, ...labels: string[]): HclBlock | undefined =>
  mod.blocks.find((b) => b.type === type && labels.every((l, i) => b.labels[i] === l));

/** `name = optional(type, default)` of an object type expression, as { type, default } source text. */
function optionalField(typeExpr: string, name: string): { type: string; default: string } | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*optional\\(\\s*([^,()]+(?:\\([^()]*\\))?)\\s*,\\s*([^)]*?)\\s*\\)`).exec(typeExpr);
  return m ? { type: m[1]!.trim(), default: m[2]!.trim() } : undefined;
}

/** The string literals of an object expression `{ KEY = "value" … }`; other values as their source text. */
function objectEntries(expr: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of expr.matchAll(/^\s*([A-Z_][A-Z0-9_]*)\s*=\s*(.+?)\s*(?:#.*)?$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** Every way the console's deployment is wrong (empty: right). */
export function consoleProblems(hg: Module, run: Module, app: string): string[] {
  const out: string[] = [];

  // The variable: off by default, IAP on by default once enabled, members a list.
  const v = block(hg, 'variable', 'console');
  if (!v) return ['no variable "console"'];
  const type = attr(v, 'type') ?? '';
  const enabled = optionalField(type, 'enabled');
  const iap = optionalField(type, 'iap');
  const members = optionalField(type, 'members');
  if (enabled?.type !== 'bool' || enabled.default !== 'false') out.push(`console.enabled must be optional(bool, false), not ${JSON.stringify(enabled)}`);
  if (iap?.type !== 'bool' || iap.default !== 'true') out.push(`console.iap must be optional(bool, true): IAP on by default, not ${JSON.stringify(iap)}`);
  if (members?.type !== 'list(string)' || members.default !== '[]') out.push(`console.members must be optional(list(string), []), not ${JSON.stringify(members)}`);
  if (!nested(v, 'validation').some((val) => /var\.console\.members/.test(attr(val, 'condition') ?? '') && /allUsers/.test(attr(val, 'error_message') ?? '')))
    out.push('console.members needs a validation refusing non-principals (allUsers, allAuthenticatedUsers)');

  // The service: ../cloud-run-service, exactly when enabled with an image, running the console as its account.
  const call = block(hg, 'module', 'console');
  if (!call) return [...out, 'no module "console"'];
  if (locals(hg).get('console_deployed') !== 'var.console.enabled && var.image_tag != null') out.push(`local.console_deployed is ${locals(hg).get('console_deployed')}, not var.console.enabled && var.image_tag != null`);
  if (attr(call, 'source') !== '"../cloud-run-service"') out.push(`module "console" has source ${attr(call, 'source')}`);
  if (attr(call, 'count') !== 'local.console_deployed ? 1 : 0') out.push(`module "console" has count ${attr(call, 'count')}: it must exist exactly when console.enabled and image_tag are set`);
  if (attr(call, 'service') !== '"console"') out.push(`module "console" runs service ${attr(call, 'service')}, not "console"`);
  if (attr(call, 'image') !== 'local.image') out.push(`module "console" runs image ${attr(call, 'image')}, not local.image (the one image)`);
  if (attr(call, 'service_account_email') !== `${CONSOLE_SA}.email`) out.push(`module "console" runs as ${attr(call, 'service_account_email')}, not its own account`);
  const sa = resources(hg, 'google_service_account').find((r) => r.labels[1] === 'console');
  if (!sa) out.push('no google_service_account "console"');
  else if (attr(sa, 'count') !== 'var.console.enabled ? 1 : 0') out.push(`the console's service account has count ${attr(sa, 'count')}`);
  const serviceValidation = block(run, 'variable', 'service');
  if (!serviceValidation || !nested(serviceValidation, 'validation').some((val) => /"console"/.test(attr(val, 'condition') ?? ''))) out.push('cloud-run-service\'s variable "service" must allow "console"');

  // Its account: objectViewer on the bucket, nothing else (no telemetry roles: not among local.service_accounts).
  const grants = resources(hg).filter((r) => /_iam_(member|binding|policy)$/.test(r.labels[0] ?? '') && exprs(r).some((e) => e.includes(CONSOLE_SA)));
  const viewer = grants.filter((g) => g.labels[0] === 'google_storage_bucket_iam_member' && attr(g, 'role') === '"roles/storage.objectViewer"' && attr(g, 'bucket') === 'google_storage_bucket.events.name' && attr(g, 'member') === `${CONSOLE_SA}.member`);
  if (viewer.length !== 1) out.push(`the console's account needs exactly one roles/storage.objectViewer on google_storage_bucket.events (found ${viewer.length})`);
  for (const g of grants.filter((x) => !viewer.includes(x))) out.push(`the console's account may hold only objectViewer on the bucket, not ${g.labels[0]}.${g.labels[1]} (${attr(g, 'role')})`);
  if (/\bconsole\b/.test(locals(hg).get('service_accounts') ?? '')) out.push('the console must not be in local.service_accounts (its grants are the telemetry writers\')');
  if (!(attr(call, 'depends_on') ?? '').includes('google_storage_bucket_iam_member.console_read')) out.push('module "console" must depend on its bucket grant (read from its first request)');

  // Ingress: IAP when console.iap (all ingress), else internal only; never public.
  if (attr(call, 'iap') !== 'var.console.iap') out.push(`module "console" has iap = ${attr(call, 'iap')}, not var.console.iap`);
  if (attr(call, 'public') !== undefined && attr(call, 'public') !== 'false') out.push(`module "console" has public = ${attr(call, 'public')}: the console is never public`);
  const svc = resources(run, 'google_cloud_run_v2_service')[0];
  if (svc) {
    if (attr(svc, 'iap_enabled') !== 'var.iap') out.push(`the Cloud Run service has iap_enabled = ${attr(svc, 'iap_enabled')}, not var.iap`);
    if (attr(svc, 'ingress') !== 'var.public || var.iap ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"') out.push(`ingress = ${attr(svc, 'ingress')}: all traffic with IAP (or public), internal otherwise`);
    if (attr(svc, 'invoker_iam_disabled') !== 'var.public') out.push(`invoker_iam_disabled = ${attr(svc, 'invoker_iam_disabled')}: only a public service skips the IAM check IAP's agent passes`);
  }
  const iapVar = block(run, 'variable', 'iap');
  if (!iapVar || attr(iapVar, 'default') !== 'false' || !nested(iapVar, 'validation').some((val) => attr(val, 'condition') === '!(var.iap && var.public)')) out.push('cloud-run-service needs variable "iap" (default false) that refuses iap with public');
  if (!/var\.console\.enabled && var\.console\.iap \? \["iap\.googleapis\.com"\] : \[\]/.test(locals(hg).get('apis') ?? '')) out.push('local.apis must enable iap.googleapis.com with the console behind IAP');

  // IAP: the members get roles/iap.httpsResourceAccessor on the console, IAP's agent roles/run.invoker.
  const accessors = resources(hg, 'google_iap_web_cloud_run_service_iam_member');
  const accessor = accessors.find(
    (r) =>
      attr(r, 'role') === '"roles/iap.httpsResourceAccessor"' &&
      attr(r, 'member') === 'each.key' &&
      attr(r, 'for_each') === 'local.console_deployed && var.console.iap ? toset(var.console.members) : toset([])' &&
      attr(r, 'cloud_run_service_name') === CONSOLE_NAME &&
      attr(r, 'location') === 'var.region' &&
      attr(r, 'project') === 'var.project_id',
  );
  if (!accessor) out.push('every console member must get roles/iap.httpsResourceAccessor on the console (google_iap_web_cloud_run_service_iam_member, for_each over var.console.members with console.iap)');
  if (accessors.length !== 1) out.push(`${accessors.length} google_iap_web_cloud_run_service_iam_member resources (one: the members)`);
  const invokers = resources(hg, 'google_cloud_run_v2_service_iam_member');
  if (locals(hg).get('iap_agent') !== IAP_AGENT) out.push(`local.iap_agent is ${locals(hg).get('iap_agent')}, not IAP's service agent`);
  const agent = invokers.find((r) => attr(r, 'member') === 'local.iap_agent');
  if (!agent || attr(agent, 'role') !== '"roles/run.invoker"' || attr(agent, 'name') !== CONSOLE_NAME || attr(agent, 'count') !== 'local.console_deployed && var.console.iap ? 1 : 0')
    out.push('IAP\'s service agent must get roles/run.invoker on the console when console.iap (Cloud Run checks IAM after IAP)');
  for (const r of invokers.filter((x) => x !== agent)) {
    if (attr(r, 'member') !== 'each.key' || attr(r, 'for_each') !== 'local.console_deployed && !var.console.iap ? toset(var.console.members) : toset([])')
      out.push(`${r.labels[0]}.${r.labels[1]}: only IAP's agent invokes the console behind IAP; the members only without IAP (for_each ${attr(r, 'for_each')})`);
  }

  // Probes: /health/live on PORT, which the console serves and listens on with the environment it gets.
  if (attr(call, 'probe_port') !== undefined && attr(call, 'probe_port') !== 'null') out.push(`module "console" has probe_port = ${attr(call, 'probe_port')}: the console serves /health/live on PORT`);
  if (attr(call, 'telemetry_sidecar') !== undefined && attr(call, 'telemetry_sidecar') !== 'null') out.push('the console exports no telemetry: no sidecar');
  const container = svc && nested(nested(svc, 'template')[0] ?? svc, 'containers')[0];
  for (const kind of ['startup_probe', 'liveness_probe']) {
    const get = container && nested(nested(container, kind)[0] ?? container, 'http_get')[0];
    if (!get || attr(get, 'path') !== '"/health/live"' || attr(get, 'port') !== 'var.probe_port') out.push(`cloud-run-service: the ${kind} must GET "/health/live" on var.probe_port (PORT when null)`);
  }
  if (!LIVE_PATHS.includes('/health/live')) out.push('LIVE_PATHS lacks /health/live');
  if (!/app\.get\(\[\.\.\.LIVE_PATHS\]/.test(app)) out.push('services/console/console-app.ts does not serve LIVE_PATHS (/health/live)');
  if (attr(call, 'env') !== 'local.console_env') out.push(`module "console" has env = ${attr(call, 'env')}, not local.console_env`);
  const env = objectEntries(locals(hg).get('console_env') ?? '');
  for (const [k, want] of [['HOURGLASS_BUCKET', '"gs://${google_storage_bucket.events.name}"'], ['HOURGLASS_WINDOW_S', 'tostring(var.window_s)'], ['HOURGLASS_PROJECT', 'var.project_id']] as const)
    if (env.get(k) !== want) out.push(`local.console_env.${k} is ${env.get(k)}, not ${want}`);
  // What the console resolves on Cloud Run (PORT=8080) from the literal part of that environment.
  const literal = Object.fromEntries([...env].filter(([, e]) => /^"[^"$]*"$/.test(e)).map(([k, e]) => [k, JSON.parse(e) as string]));
  try {
    const o = resolveConsoleOptions({ ...literal, PORT: '8080' });
    if (o.port !== 8080) out.push(`on Cloud Run the console listens on ${o.port}, not PORT (8080), where it is probed`);
    if (o.host !== '0.0.0.0') out.push(`on Cloud Run the console listens on ${o.host}, which Cloud Run cannot reach (HOURGLASS_CONSOLE_HOST = "0.0.0.0")`);
  } catch (err) {
    out.push(`the console refuses the environment Terraform gives it: ${(err as Error).message}`);
  }
  return out;
}

describe('infra: the status console', () => {
  it('is an optional Cloud Run service behind IAP, reading the bucket only, probed where it answers', () => {
    assert.deepEqual(consoleProblems(hourglass, cloudRun, CONSOLE_APP), []);
  });

  it('has an output with its URL, and the example environment passes console and shows console_url', () => {
    const url = block(hourglass, 'output', 'console_url');
    assert.equal(url && attr(url, 'value'), 'try(module.console[0].uri, null)');
    const env = loadModule(join(REPO, 'infra', 'envs', 'example'));
    const call = block(env, 'module', 'hourglass');
    assert.equal(call && attr(call, 'console'), 'var.console');
    const out = block(env, 'output', 'console_url');
    assert.equal(out && attr(out, 'value'), 'module.hourglass.console_url');
  });

  describe('fails when', () => {
    const change = (mod: Module, type: string, labels: string[], f: (b: HclBlock) => HclBlock): Module => ({
      dir: mod.dir,
      blocks: mod.blocks.map((b) => (b.type === type && labels.every((l, i) => b.labels[i] === l) ? f(b) : b)),
    });
    const setAttr = (name: string, expr: string | undefined) => (b: HclBlock): HclBlock => {
      const attributes = new Map(b.attributes);
      if (expr === undefined) attributes.delete(name);
      else attributes.set(name, { name, expr, line: b.line });
      return { ...b, attributes };
    };
    const call = (name: string, expr: string | undefined) => change(hourglass, 'module', ['console'], setAttr(name, expr));
    const res = (type: string, name: string, attrName: string, expr: string | undefined) => change(hourglass, 'resource', [type, name], setAttr(attrName, expr));
    const local = (name: string, f: (e: string) => string): Module => ({
      dir: hourglass.dir,
      blocks: hourglass.blocks.map((b) => (b.type === 'locals' && b.attributes.has(name) ? setAttr(name, f(attr(b, name)!))(b) : b)),
    });
    const svc = (name: string, expr: string | undefined) => change(cloudRun, 'resource', ['google_cloud_run_v2_service', 'this'], setAttr(name, expr));
    const variable = (f: (e: string) => string) => change(hourglass, 'variable', ['console'], (b) => setAttr('type', f(attr(b, 'type')!))(b));
    const extraGrant: HclBlock = {
      type: 'resource',
      labels: ['google_project_iam_member', 'console_metrics'],
      file: 'x.tf',
      line: 1,
      blocks: [],
      attributes: new Map([
        ['role', { name: 'role', expr: '"roles/monitoring.metricWriter"', line: 1 }],
        ['member', { name: 'member', expr: 'google_service_account.console[0].member', line: 1 }],
      ]),
    };
    const cases: [string, Module, Module, string, RegExp][] = [
      ['the console is on by default', variable((t) => t.replace('enabled       = optional(bool, false)', 'enabled       = optional(bool, true)')), cloudRun, CONSOLE_APP, /console\.enabled must be optional\(bool, false\)/],
      ['IAP is off by default', variable((t) => t.replace('iap           = optional(bool, true)', 'iap           = optional(bool, false)')), cloudRun, CONSOLE_APP, /IAP on by default/],
      ['the service is deployed without console.enabled', call('count', 'var.image_tag == null ? 0 : 1'), cloudRun, CONSOLE_APP, /must exist exactly when console\.enabled/],
      ['the service runs the checker', call('service', '"checker"'), cloudRun, CONSOLE_APP, /runs service "checker"/],
      ['the module does not allow "console"', hourglass, change(cloudRun, 'variable', ['service'], (b) => ({ ...b, blocks: [] })), CONSOLE_APP, /must allow "console"/],
      ['the service runs as the checker', call('service_account_email', 'google_service_account.checker.email'), cloudRun, CONSOLE_APP, /not its own account/],
      ['its account may write the bucket', res('google_storage_bucket_iam_member', 'console_read', 'role', '"roles/storage.objectUser"'), cloudRun, CONSOLE_APP, /exactly one roles\/storage\.objectViewer[\s\S]*not google_storage_bucket_iam_member\.console_read/],
      ['its account gets a second grant', { dir: hourglass.dir, blocks: [...hourglass.blocks, extraGrant] }, cloudRun, CONSOLE_APP, /only objectViewer on the bucket, not google_project_iam_member\.console_metrics/],
      ['its account joins the services (and their telemetry roles)', local('service_accounts', (e) => e.replace('}', '  console = google_service_account.console[0].email\n}')), cloudRun, CONSOLE_APP, /must not be in local\.service_accounts/],
      ['the console is public', call('public', 'true'), cloudRun, CONSOLE_APP, /the console is never public/],
      ['IAP is not passed on', call('iap', 'false'), cloudRun, CONSOLE_APP, /iap = false, not var\.console\.iap/],
      ['the Cloud Run service ignores iap', hourglass, svc('iap_enabled', undefined), CONSOLE_APP, /iap_enabled = undefined, not var\.iap/],
      ['IAP without all ingress', hourglass, svc('ingress', 'var.public ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"'), CONSOLE_APP, /all traffic with IAP/],
      ['the IAP API is not enabled', local('apis', (e) => e.replace('"iap.googleapis.com"', '"run.googleapis.com"')), cloudRun, CONSOLE_APP, /iap\.googleapis\.com/],
      ['the members get no IAP access', res('google_iap_web_cloud_run_service_iam_member', 'console_members', 'role', '"roles/iap.tunnelResourceAccessor"'), cloudRun, CONSOLE_APP, /every console member must get roles\/iap\.httpsResourceAccessor/],
      ['IAP access is granted on another service', res('google_iap_web_cloud_run_service_iam_member', 'console_members', 'cloud_run_service_name', 'module.service["gateway"].name'), cloudRun, CONSOLE_APP, /every console member must get/],
      ['IAP\'s agent cannot invoke the console', res('google_cloud_run_v2_service_iam_member', 'console_iap_invoker', 'role', '"roles/run.viewer"'), cloudRun, CONSOLE_APP, /IAP's service agent must get roles\/run\.invoker/],
      ['the members may invoke it past IAP', res('google_cloud_run_v2_service_iam_member', 'console_members_invoker', 'for_each', 'local.console_deployed ? toset(var.console.members) : toset([])'), cloudRun, CONSOLE_APP, /the members only without IAP/],
      ['probes on another port', call('probe_port', '8081'), cloudRun, CONSOLE_APP, /serves \/health\/live on PORT/],
      ['probes on /healthz', hourglass, change(cloudRun, 'resource', ['google_cloud_run_v2_service', 'this'], (s) => ({ ...s, blocks: s.blocks.map((t) => (t.type === 'template' ? { ...t, blocks: t.blocks.map((c) => (c.type === 'containers' ? { ...c, blocks: c.blocks.map((p) => (p.type === 'liveness_probe' ? { ...p, blocks: p.blocks.map(setAttr('path', '"/healthz"')) } : p)) } : c)) } : t)) })), CONSOLE_APP, /liveness_probe must GET "\/health\/live"/],
      ['the console does not serve /health/live', hourglass, cloudRun, CONSOLE_APP.replace('app.get([...LIVE_PATHS]', "app.get('/healthz'"), /does not serve LIVE_PATHS/],
      ['the console listens on 127.0.0.1', local('console_env', (e) => e.replace(/^\s*HOURGLASS_CONSOLE_HOST.*$/m, '')), cloudRun, CONSOLE_APP, /listens on 127\.0\.0\.1, which Cloud Run cannot reach/],
      ['the console listens on a fixed port', local('console_env', (e) => e.replace('{', '{\n    HOURGLASS_CONSOLE_PORT = "8081"')), cloudRun, CONSOLE_APP, /listens on 8081, not PORT/],
      ['the console reads another bucket', local('console_env', (e) => e.replace('gs://${google_storage_bucket.events.name}', 'gs://other')), cloudRun, CONSOLE_APP, /HOURGLASS_BUCKET is "gs:\/\/other"/],
    ];
    for (const [what, hg, run, app, expected] of cases) it(what, () => assert.match(consoleProblems(hg, run, app).join('\n'), expected));
  });
});
