// The local run command: Pub/Sub emulator (and fake-gcs-server with --gcs), then gateway, workers and checker as processes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLocalStack } from '../local-stack/local-stack.ts';
import { Registry } from '../registry/registry.ts';
import { startDemoLoad } from './demo-load.ts';
import { parseRunOptions, type RunOptions } from './run-options.ts';

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
const children: ChildProcess[] = [];
const start = (name: string, entry: string, extra: NodeJS.ProcessEnv = {}) => {
  const child = spawn(process.execPath, [path.join(root, entry)], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  createInterface({ input: child.stdout! }).on('line', (line) => report(name, line));
  child.on('exit', (code, signal) => {
    if (!stopping) process.stdout.write(`hourglass: ${name} exited (${signal ?? code}); stopping\n`);
    void stop(1);
  });
  return child;
};

/** Fields every log line has, left out of the compact form. */
const ENVELOPE = new Set(['time', 'severity', 'level', 'service', 'event', 'msg', 'message']);

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
  } else if (entry.level === 'error' || entry.level === 'warn' || !options.demo) {
    const fields = Object.entries(entry)
      .filter(([key]) => !ENVELOPE.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const what = String(entry.event ?? entry.msg ?? '');
    process.stdout.write(`[${name}] ${String(entry.level ?? '')} ${what}${fields ? ` ${fields.length > 300 ? `${fields.slice(0, 300)}…` : fields}` : ''}\n`);
  }
}

/** Ops endpoints (/metrics, /healthz, /readyz) on 127.0.0.1: worker i on WORKER_OPS_PORT + i, the checker on CHECKER_OPS_PORT. */
const WORKER_OPS_PORT = 9100;
const CHECKER_OPS_PORT = 9200;

start('gateway', 'services/gateway/main.ts', { HOURGLASS_PORT: String(options.port), HOURGLASS_HOST: '127.0.0.1' });
for (let i = 0; i < options.workers; i++) start(`worker-${i}`, 'services/worker/main.ts', { HOURGLASS_OPS_PORT: String(WORKER_OPS_PORT + i), HOURGLASS_OPS_HOST: '127.0.0.1' });
start('checker', 'services/checker/main.ts', { HOURGLASS_OPS_PORT: String(CHECKER_OPS_PORT), HOURGLASS_OPS_HOST: '127.0.0.1' });
start('console', 'services/console/main.ts', { HOURGLASS_CONSOLE_PORT: String(options.consolePort), HOURGLASS_CONSOLE_HOST: '127.0.0.1' });
process.stdout.write(
  `hourglass: running. gateway http://127.0.0.1:${options.port}/v1/events/<type> (metrics /metrics), status page http://127.0.0.1:${options.consolePort}/, ` +
    `metrics: worker(s) ${Array.from({ length: options.workers }, (_, i) => `http://127.0.0.1:${WORKER_OPS_PORT + i}/metrics`).join(' ')}, checker http://127.0.0.1:${CHECKER_OPS_PORT}/metrics; ` +
    `bucket ${location}, ${options.windowS}s windows, ${options.workers} worker(s). Ctrl-C stops.\n`,
);
const demo = options.demo ? await startDemoLoad({ registry, host: stack.pubsub.host, projectId: stack.pubsub.projectId, windowS: options.windowS, gatewayUrl: `http://127.0.0.1:${options.port}`, rate: options.rate }) : undefined;

let stopping: Promise<void> | undefined;
const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
const exitOf = (c: (typeof children)[number]) => new Promise((r) => c.once('exit', r));
/** Ctrl-C in a terminal reaches the children too: they stop on their own, and a second signal would force them. */
const TERMINAL_SIGINT_GRACE_MS = 15_000;
function stop(code: number, fromTerminal = false): Promise<void> {
  stopping ??= (async () => {
    await demo?.stop();
    if (fromTerminal) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(running().map(exitOf)), new Promise((r) => (timer = setTimeout(r, TERMINAL_SIGINT_GRACE_MS)))]);
      clearTimeout(timer);
    }
    for (const c of running()) c.kill('SIGTERM');
    await Promise.all(running().map(exitOf));
    await stack.stop();
    process.exit(code);
  })();
  return stopping;
}
process.once('SIGINT', () => void stop(0, process.stdin.isTTY === true));
process.once('SIGTERM', () => void stop(0));
