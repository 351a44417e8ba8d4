// Every Cloud Run service is probed where it answers, and its telemetry sidecar is wired as Cloud Run
// needs it. Read with the HCL reader (no terraform):
//   - the hourglass module deploys gateway, worker and checker, each through ../cloud-run-service,
//     whose service container has HTTP startup and liveness probes on /health/live at probe_port (the
//     gateway's ops port, which its env sets to the same value) or PORT (worker, checker), paths the
//     services' code serves;
//   - that container is the ingress one (the only one with a port), and with a sidecar it depends on
//     the collector and sends OTLP to the collector's receiver (localhost:4318);
//   - the collector container has no port, its startup and liveness probes call its health check on
//     the port the collector's config opens, and it reads the config the hourglass module writes.
// Each check is broken on a copy below and must fail.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HclBlock } from './hcl.ts';
import { LIVE_PATHS } from '../../services/telemetry/ops-server.ts';
import { attr, locals, loadModule, MODULES, nested, REPO, resources, type Module } from './terraform-config.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';

const cloudRun = loadModule(MODULES.cloudRunService);
const hourglass = loadModule(MODULES.hourglass);
const SERVICES = ['checker', 'gateway', 'worker'];

/** `key = value` of an HCL object expression's top level (one level of `{ … }` inside is kept as text). */
function objectField(expr: string | undefined, key: string): string | undefined {
  if (expr === undefined) return undefined;
  const m = new RegExp(`(?:^|[\\s{,])${key}\\s*=\\s*("[^"]*"|\\d+|[\\w.\\[\\]]+)`).exec(expr);
  return m?.[1];
}

/** The HTTP probe of a container, as { path, port } expressions, or why it is missing. */
function httpProbe(container: HclBlock, kind: 'startup_probe' | 'liveness_probe'): { path?: string; port?: string } | string {
  const probes = nested(container, kind);
  if (probes.length !== 1) return `${probes.length} ${kind} blocks`;
  const gets = nested(probes[0]!, 'http_get');
  if (gets.length !== 1) return `${kind} is not one http_get`;
  return { path: attr(gets[0]!, 'path'), port: attr(gets[0]!, 'port') };
}

/** Every way the services' probes and sidecar wiring are wrong (empty: right). */
export function probeProblems(run: Module, hg: Module): string[] {
  const out: string[] = [];
  const services = resources(run, 'google_cloud_run_v2_service');
  if (services.length !== 1) return [`cloud-run-service: ${services.length} google_cloud_run_v2_service resources`];
  const [template] = nested(services[0]!, 'template');
  if (!template) return ['no template'];
  const statics = nested(template, 'containers');
  const dynamics = template.blocks.filter((b) => b.type === 'dynamic' && b.labels[0] === 'containers');
  if (statics.length !== 1) return [`the template has ${statics.length} static containers blocks (one: the service)`];
  if (dynamics.length !== 1) return [`the template has ${dynamics.length} dynamic containers blocks (one: the sidecar)`];
  const app = statics[0]!;
  const [sidecar] = nested(dynamics[0]!, 'content');
  if (!sidecar) return ['the sidecar has no content'];
  const collector = locals(run).get('collector');

  // The service container: the hourglass image, the ingress port, probes on /health/live.
  if (attr(app, 'image') !== 'var.image') out.push(`the service container runs ${attr(app, 'image')}, not var.image`);
  if (nested(app, 'ports').length !== 1) out.push('the service container must declare its port (Cloud Run: the ingress container of several)');
  for (const kind of ['startup_probe', 'liveness_probe'] as const) {
    const p = httpProbe(app, kind);
    if (typeof p === 'string') out.push(`service container: ${p}`);
    else {
      if (p.path !== '"/health/live"') out.push(`service container: ${kind} calls ${p.path}, not "/health/live"`);
      if (p.port !== 'var.probe_port') out.push(`service container: ${kind} on port ${p.port}, not var.probe_port`);
    }
  }
  // With a sidecar: starts after it, and sends OTLP to it.
  if (attr(app, 'depends_on') !== 'var.telemetry_sidecar == null ? null : [local.collector.name]') out.push(`the service container must depend on the collector when there is one (depends_on = ${attr(app, 'depends_on')})`);
  const envLoops = app.blocks.filter((b) => b.type === 'dynamic' && b.labels[0] === 'env').map((b) => attr(b, 'for_each'));
  if (!envLoops.includes('local.env')) out.push('the service container\'s env must be local.env');
  if (!/OTEL_EXPORTER_OTLP_ENDPOINT\s*=\s*local\.collector\.otlp_http/.test(locals(run).get('env') ?? '')) out.push('local.env must set OTEL_EXPORTER_OTLP_ENDPOINT to local.collector.otlp_http with a sidecar');

  // The sidecar: no port, probed on its health check, its config mounted.
  if (attr(dynamics[0]!, 'for_each') !== 'var.telemetry_sidecar == null ? [] : [var.telemetry_sidecar]') out.push(`the sidecar must exist exactly when var.telemetry_sidecar is set (for_each ${attr(dynamics[0]!, 'for_each')})`);
  if (nested(sidecar, 'ports').length !== 0) out.push('the sidecar must not declare a port (only the ingress container has one)');
  if (attr(sidecar, 'name') !== 'local.collector.name') out.push('the sidecar must be named local.collector.name (what the service depends on)');
  for (const kind of ['startup_probe', 'liveness_probe'] as const) {
    const p = httpProbe(sidecar, kind);
    if (typeof p === 'string') out.push(`sidecar: ${p}`);
    else if (p.port !== 'local.collector.health_port') out.push(`sidecar: ${kind} on port ${p.port}, not local.collector.health_port`);
  }
  if (!nested(sidecar, 'volume_mounts').some((v) => attr(v, 'name') === 'local.collector.volume' && attr(v, 'mount_path') === 'local.collector.config_dir')) out.push('the sidecar must mount its config volume at local.collector.config_dir');
  if (!(attr(sidecar, 'args') ?? '').includes('--config=${local.collector.config_dir}/config.yaml')) out.push('the sidecar must run with --config=<config_dir>/config.yaml');

  // The collector's ports and the config the hourglass module writes agree.
  const config = locals(hg).get('collector_config') ?? '';
  const health = objectField(collector, 'health_port');
  const healthEndpoint = /health_check\s*=\s*\{\s*endpoint\s*=\s*"[^":]*:(\d+)"/.exec(config)?.[1];
  if (health === undefined || health !== healthEndpoint) out.push(`the sidecar's probes call port ${health}, the collector's health_check listens on ${healthEndpoint}`);
  const otlp = objectField(collector, 'otlp_http');
  const receiver = /otlp\s*=\s*\{\s*protocols\s*=\s*\{\s*http\s*=\s*\{\s*endpoint\s*=\s*"([^"]+)"/.exec(config)?.[1];
  if (otlp === undefined || otlp !== `"http://${receiver}"`) out.push(`the service sends OTLP to ${otlp}, the collector receives on ${receiver}`);

  // Every service goes through the module, probed where it serves /health/live.
  const call = hg.blocks.find((b) => b.type === 'module' && b.labels[0] === 'service');
  if (!call) return [...out, 'the hourglass module does not call ../cloud-run-service'];
  if (attr(call, 'source') !== '"../cloud-run-service"') out.push(`module "service" has source ${attr(call, 'source')}`);
  if (attr(call, 'for_each') !== 'var.image_tag == null ? {} : local.service_accounts') out.push(`module "service" iterates ${attr(call, 'for_each')}, not every service`);
  const accounts = [...(locals(hg).get('service_accounts') ?? '').matchAll(/^\s*(\w+)\s*=/gm)].map((m) => m[1]).sort();
  if (JSON.stringify(accounts) !== JSON.stringify(SERVICES)) out.push(`local.service_accounts has ${accounts.join(', ')}, not ${SERVICES.join(', ')}`);
  if (attr(call, 'probe_port') !== 'each.key == "gateway" ? local.gateway_ops_port : null') out.push(`probe_port = ${attr(call, 'probe_port')}: the gateway's probes must call its ops port, the others' PORT`);
  if (!(attr(call, 'env') ?? '').includes('HOURGLASS_OPS_PORT = tostring(local.gateway_ops_port)')) out.push('the gateway\'s HOURGLASS_OPS_PORT must be local.gateway_ops_port, where its probes call');
  if (!/^var\.telemetry_sidecar \? \{[\s\S]*image\s*=\s*var\.collector\.image[\s\S]*config_secret\s*=\s*google_secret_manager_secret\.collector_config\[0\]\.secret_id[\s\S]*config_version\s*=\s*google_secret_manager_secret_version\.collector_config\[0\]\.version[\s\S]*\} : null$/.test(attr(call, 'telemetry_sidecar') ?? ''))
    out.push('module "service" must pass the collector image and its config secret and version when var.telemetry_sidecar');
  return out;
}

describe('infra: Cloud Run probes and the telemetry sidecar', () => {
  it('probes every service on /health/live, runs a collector beside it when asked, and wires the two together', () => {
    assert.deepEqual(probeProblems(cloudRun, hourglass), []);
  });

  it('probes paths the services serve: worker and checker on PORT, the gateway on its ops listener', () => {
    assert.ok(LIVE_PATHS.includes('/health/live'), 'services/telemetry/ops-server.ts serves /health/live');
    // Cloud Run gives PORT: the worker's and the checker's configuration put the ops listener there, on every interface.
    for (const [s, o] of [['worker', resolveWorkerOptions({ PORT: '8080' })], ['checker', resolveCheckerOptions({ PORT: '8080' })]] as const) {
      assert.deepEqual([o.opsPort, o.opsHost], [8080, '0.0.0.0'], `${s} serves its ops endpoints on PORT on Cloud Run`);
      const main = readFileSync(join(REPO, 'services', s, 'main.ts'), 'utf8');
      assert.match(main, /startOpsServer\(\{ port: options\.opsPort, host: options\.opsHost/, `${s} starts the ops server where its configuration says`);
    }
    assert.match(readFileSync(join(REPO, 'services', 'gateway', 'app.ts'), 'utf8'), /export function createOpsApp[\s\S]*app\.get\(\['\/health\/live'/, 'the gateway\'s ops app serves /health/live');
    assert.equal(locals(hourglass).get('gateway_ops_port'), '8081');
  });

  it('turns the sidecar on by default, in the module and the example environment', () => {
    const v = hourglass.blocks.find((b) => b.type === 'variable' && b.labels[0] === 'telemetry_sidecar');
    assert.equal(v && attr(v, 'default'), 'true');
    const env = loadModule(join(REPO, 'infra', 'envs', 'example'));
    const call = env.blocks.find((b) => b.type === 'module' && b.labels[0] === 'hourglass');
    assert.equal(call && attr(call, 'telemetry_sidecar'), 'var.telemetry_sidecar');
  });

  describe('fails when', () => {
    const template = (mod: Module, change: (t: HclBlock) => HclBlock): Module => ({
      dir: mod.dir,
      blocks: mod.blocks.map((b) => (b.type === 'resource' && b.labels[0] === 'google_cloud_run_v2_service' ? { ...b, blocks: b.blocks.map((t) => (t.type === 'template' ? change(t) : t)) } : b)),
    });
    const app = (change: (c: HclBlock) => HclBlock) => template(cloudRun, (t) => ({ ...t, blocks: t.blocks.map((c) => (c.type === 'containers' ? change(c) : c)) }));
    const sidecar = (change: (c: HclBlock) => HclBlock) =>
      template(cloudRun, (t) => ({ ...t, blocks: t.blocks.map((d) => (d.type === 'dynamic' && d.labels[0] === 'containers' ? { ...d, blocks: d.blocks.map((c) => (c.type === 'content' ? change(c) : c)) } : d)) }));
    const drop = (type: string) => (c: HclBlock) => ({ ...c, blocks: c.blocks.filter((b) => b.type !== type) });
    const setAttr = (name: string, expr: string | undefined) => (c: HclBlock) => {
      const attributes = new Map(c.attributes);
      if (expr === undefined) attributes.delete(name);
      else attributes.set(name, { name, expr, line: c.line });
      return { ...c, attributes };
    };
    const probePath = (path: string) => (c: HclBlock) => ({ ...c, blocks: c.blocks.map((p) => (p.type === 'liveness_probe' ? { ...p, blocks: p.blocks.map(setAttr('path', path)) } : p)) });
    const withPort = (c: HclBlock) => ({ ...c, blocks: [...c.blocks, { ...c, type: 'ports', labels: [], blocks: [], attributes: new Map([['container_port', { name: 'container_port', expr: '4318', line: 0 }]]) }] });
    const call = (name: string, expr: string): Module => ({ dir: hourglass.dir, blocks: hourglass.blocks.map((b) => (b.type === 'module' && b.labels[0] === 'service' ? setAttr(name, expr)(b) : b)) });
    const cases: [string, Module, Module, RegExp][] = [
      ['the service loses its liveness probe', app(drop('liveness_probe')), hourglass, /service container: 0 liveness_probe blocks/],
      ['the service loses its startup probe', app(drop('startup_probe')), hourglass, /service container: 0 startup_probe blocks/],
      ['the liveness probe calls /healthz (a path Cloud Run reserves)', app(probePath('"/healthz"')), hourglass, /liveness_probe calls "\/healthz"/],
      ['the service loses its port', app(drop('ports')), hourglass, /must declare its port/],
      ['the service starts before the collector', app(setAttr('depends_on', undefined)), hourglass, /must depend on the collector/],
      ['the sidecar gets a port', sidecar(withPort), hourglass, /sidecar must not declare a port/],
      ['the sidecar loses its startup probe', sidecar(drop('startup_probe')), hourglass, /sidecar: 0 startup_probe blocks/],
      ['the sidecar is probed on the wrong port', sidecar((c) => ({ ...c, blocks: c.blocks.map((p) => (p.type === 'startup_probe' ? { ...p, blocks: p.blocks.map(setAttr('port', '4318')) } : p)) })), hourglass, /startup_probe on port 4318/],
      ['the collector\'s health check moves', cloudRun, { dir: hourglass.dir, blocks: hourglass.blocks.map((b) => (b.type === 'locals' && b.attributes.has('collector_config') ? setAttr('collector_config', attr(b, 'collector_config')!.replace('0.0.0.0:13133', '0.0.0.0:13134'))(b) : b)) }, /call port 13133, the collector's health_check listens on 13134/],
      ['the gateway is probed on PORT, not its ops port', cloudRun, call('probe_port', 'null'), /the gateway's probes must call its ops port/],
      ['one service is left out', cloudRun, call('for_each', 'var.image_tag == null ? {} : { for k, v in local.service_accounts : k => v if k != "worker" }'), /not every service/],
      ['the services get no sidecar', cloudRun, call('telemetry_sidecar', 'null'), /must pass the collector image/],
    ];
    for (const [what, run, hg, expected] of cases) it(what, () => assert.match(probeProblems(run, hg).join('\n'), expected));
  });
});
