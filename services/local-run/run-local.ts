// The local run command: Pub/Sub emulator (and fake-gcs-server with --gcs), then gateway, workers and checker as supervised processes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../local-stack/free-port.ts';
import { startIcebergRestCatalog } from '../local-stack/iceberg-rest-catalog.ts';
import { startLocalStack } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { startDemoLoad } from './demo-load.ts';
import { parseRunOptions, type RunOptions } from './run-options.ts';
import { SupervisedService } from './supervisor.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
let options: RunOptions;
try {
  options = parseRunOptions(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const registry = await Registry.load();
const bucket = options.location.startsWith('gs://') ? options.location.slice(5).split('/')[0] : undefined;
process.stdout.write(`hourglass: starting the Pub/Sub emulator${options.gcs ? ' and fake-gcs-server' : ''}…\n`);
const stack = await startLocalStack({ registry, gcsBucket: options.gcs ? bucket : undefined });
const location = options.location.startsWith('file://') ? `file://${path.resolve(fileURLToPath(options.location.replace(/^file:\/\/\.\//, `file://${process.cwd()}/`)))}` : options.location;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PUBSUB_EMULATOR_HOST: stack.pubsub.host,
  HOURGLASS_PROJECT: stack.pubsub.projectId,
  HOURGLASS_BUCKET: location,
  HOURGLASS_WINDOW_S: String(options.windowS),
  HOURGLASS_MODE: 'local',
  METADATA_SERVER_DETECTION: 'none',
  ...(stack.gcs ? { HOURGLASS_GCS_ENDPOINT: stack.gcs.endpoint } : {}),
};
// With --tables: Apache Iceberg's REST catalog, its sqlite file and warehouse kept across runs like the bucket.
const tablesDir = path.resolve('.hourglass-tables');
const catalog = options.tables ? await startIcebergRestCatalog({ warehouseDir: path.join(tablesDir, 'warehouse'), catalogDbFile: path.join(tablesDir, 'catalog.db'), logFile: path.join(tablesDir, 'catalog.log') }) : undefined;
/** Services as Cloud Run would keep them: each restarted with backoff when it exits unexpectedly (supervisor.ts). */
const services: SupervisedService[] = [];
const say = (line: string) => process.stdout.write(`hourglass: ${line}\n`);
const start = (name: string, entry: string, extra: NodeJS.ProcessEnv = {}) => {
  const service = new SupervisedService({
    name,
    log: say,
    spawn: () => {
      const child = spawn(process.execPath, [path.join(root, entry)], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
      createInterface({ input: child.stdout! }).on('line', (line) => report(name, line));
      return child;
    },
  });
  services.push(service);
  service.start();
};

/** Fields every log line has, left out of the compact form. */
const ENVELOPE = new Set(['time', 'severity', 'level', 'service', 'event', 'msg', 'message', 'logging.googleapis.com/trace', 'logging.googleapis.com/spanId', 'logging.googleapis.com/trace_sampled']);

/**
 * One line of a child's stdout. The services log JSON lines with `level` and `event` (the console a
 * `msg`): closed windows get a line of their own; warnings and errors a compact one
 * (`[worker-0] warn write_retry what=staging error=…`); the rest only without --demo.
 */
function report(name: string, line: string): void {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    process.stdout.write(`[${name}] ${line}\n`);
    return;
  }
  if (entry.event === 'window_closed') {
    const delay = ((entry.closeDelayMs as number) / 1000).toFixed(1);
    process.stdout.write(`closed ${String(entry.type).padEnd(17)} ${entry.window}  ${String(entry.status).padEnd(10)} ${String(entry.events).padStart(7)} events  close delay ${delay}s  lost ${entry.lostEvents}  → ${entry.path}\n`);
  } else if (entry.event === 'window_committed' && entry.outcome === 'committed') {
    const lag = ((entry.lagMs as number) / 1000).toFixed(1);
    process.stdout.write(`table  ${String(entry.type).padEnd(17)} ${entry.window}  ${String(entry.status).padEnd(10)} ${String(entry.records).padStart(7)} rows    table lag   ${lag}s  → snapshot ${entry.snapshotId}\n`);
  } else if (entry.level === 'error' || entry.level === 'warn' || !options.demo) {
    const fields = Object.entries(entry)
      .filter(([key]) => !ENVELOPE.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const what = String(entry.event ?? entry.msg ?? '');
    process.stdout.write(`[${name}] ${String(entry.level ?? '')} ${what}${fields ? ` ${fields.length > 300 ? `${fields.slice(0, 300)}…` : fields}` : ''}\n`);
  }
}

/** Ops endpoints (/metrics, /healthz, /readyz) on 127.0.0.1: worker i on the ops port + i, the checker on the ops port + 100, the gateway on + 200. */
const CHECKER_OPS_OFFSET = 100;
const GATEWAY_OPS_OFFSET = 200;
// A port given as 0 is picked once, here, so that a restarted service comes back on the same one.
const pick = async (port: number) => (port === 0 ? freePort() : port);
const gatewayPort = await pick(options.port);
const consolePort = await pick(options.consolePort);
const workerOpsPorts = await Promise.all(Array.from({ length: options.workers }, (_, i) => pick(options.opsPort === 0 ? 0 : options.opsPort + i)));
const checkerOpsPort = await pick(options.opsPort === 0 ? 0 : options.opsPort + CHECKER_OPS_OFFSET);
const gatewayOpsPort = await pick(options.opsPort === 0 ? 0 : options.opsPort + GATEWAY_OPS_OFFSET);

start('gateway', 'services/gateway/main.ts', { HOURGLASS_PORT: String(gatewayPort), HOURGLASS_HOST: '127.0.0.1', HOURGLASS_OPS_PORT: String(gatewayOpsPort), HOURGLASS_OPS_HOST: '127.0.0.1' });
for (let i = 0; i < options.workers; i++) start(`worker-${i}`, 'services/worker/main.ts', { HOURGLASS_OPS_PORT: String(workerOpsPorts[i]), HOURGLASS_OPS_HOST: '127.0.0.1' });
start('checker', 'services/checker/main.ts', { HOURGLASS_OPS_PORT: String(checkerOpsPort), HOURGLASS_OPS_HOST: '127.0.0.1' });
start('console', 'services/console/main.ts', { HOURGLASS_CONSOLE_PORT: String(consolePort), HOURGLASS_CONSOLE_HOST: '127.0.0.1' });
if (catalog) start('tables', 'services/table/main.ts', { HOURGLASS_TABLE_CATALOG_URI: catalog.uri, HOURGLASS_TABLE_NAMESPACE: 'hourglass' });
process.stdout.write(
  `hourglass: running. gateway http://127.0.0.1:${gatewayPort}/v1/events/<type> (API description /openapi.json; metrics http://127.0.0.1:${gatewayOpsPort}/metrics), status page http://127.0.0.1:${consolePort}/, ` +
    `metrics: worker(s) ${workerOpsPorts.map((p) => `http://127.0.0.1:${p}/metrics`).join(' ')}, checker http://127.0.0.1:${checkerOpsPort}/metrics; ` +
    `Pub/Sub emulator PUBSUB_EMULATOR_HOST=${stack.pubsub.host}; bucket ${location}, ${options.windowS}s windows, ${options.workers} worker(s). ` +
    (catalog ? `Iceberg REST catalog ${catalog.uri} (namespace hourglass; warehouse ${catalog.warehouse}; read with pyiceberg: load_catalog("local", type="rest", uri="${catalog.uri}")). ` : '') +
    `A service that exits is restarted. Ctrl-C stops.\n`,
);
const demo = options.demo ? await startDemoLoad({ registry, host: stack.pubsub.host, projectId: stack.pubsub.projectId, windowS: options.windowS, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, rate: options.rate }) : undefined;

let stopping: Promise<void> | undefined;
const allExited = () => Promise.all(services.map((s) => s.exited()));
/** Ctrl-C in a terminal reaches the children too: they stop on their own, and a second signal would force them. */
const TERMINAL_SIGINT_GRACE_MS = 15_000;
function stop(code: number, fromTerminal = false): Promise<void> {
  stopping ??= (async () => {
    // From here an exit is expected: nothing is restarted.
    for (const s of services) s.shutdown();
    await demo?.stop();
    if (fromTerminal) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([allExited(), new Promise((r) => (timer = setTimeout(r, TERMINAL_SIGINT_GRACE_MS)))]);
      clearTimeout(timer);
    }
    for (const s of services) s.signal('SIGTERM');
    await allExited();
    await catalog?.stop();
    await stack.stop();
    process.exit(code);
  })();
  return stopping;
}
process.once('SIGINT', () => void stop(0, process.stdin.isTTY === true));
process.once('SIGTERM', () => void stop(0));
