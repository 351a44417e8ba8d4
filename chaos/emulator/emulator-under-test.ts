// The Pub/Sub emulator the redelivery experiment runs against: as gcloud starts it (stock) or with the grpc-api shim (patched), its exact version, and its live StreamingPull threads.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { emulatorJar, startPubsubEmulator } from '../../services/local-stack/pubsub-emulator.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';

const run = promisify(execFile);

export type EmulatorKind = 'stock' | 'patched';

export interface EmulatorVersion {
  readonly gcloudSdk: string;
  readonly pubsubEmulatorComponent: string;
  readonly jar: string;
  readonly jarSha256: string;
  readonly java: string;
}

export interface EmulatorUnderTest {
  readonly kind: EmulatorKind;
  readonly host: string;
  readonly projectId: string;
  /**
   * StreamingPull pusher threads alive in the emulator (from a jstack thread dump): one per stream
   * the emulator still serves. Once every subscriber has gone, any left is a stream it lost track of.
   */
  pusherThreads(): Promise<number>;
  /**
   * With grpcLog: how many times grpc-java failed to close a call because of the missing
   * InternalStatus method (NoSuchMethodError in the emulator's log); otherwise undefined.
   */
  callCloseFailures(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** grpc-netty logs its frames and connection errors at FINE: the only place the NoSuchMethodError shows. */
const GRPC_FINE_LOGGING = ['handlers=java.util.logging.ConsoleHandler', 'java.util.logging.ConsoleHandler.level=ALL', '.level=INFO', 'io.grpc.netty.level=FINE', ''].join('\n');

export async function emulatorVersion(): Promise<EmulatorVersion> {
  const { stdout } = await run('gcloud', ['version', '--format=json']);
  const components = JSON.parse(stdout) as Record<string, string>;
  const jar = await emulatorJar();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(jar)) hash.update(chunk as Buffer);
  const { stderr: java } = await run('java', ['-version']);
  return {
    gcloudSdk: components['Google Cloud SDK']!,
    pubsubEmulatorComponent: components['pubsub-emulator']!,
    jar,
    jarSha256: hash.digest('hex'),
    java: java.split('\n')[0]!.trim(),
  };
}

export async function startEmulatorUnderTest(kind: EmulatorKind, options: { grpcLog?: boolean } = {}): Promise<EmulatorUnderTest> {
  const logDir = options.grpcLog ? await mkdtemp(path.join(os.tmpdir(), 'hg-emulator-log-')) : undefined;
  const logFile = logDir && path.join(logDir, 'emulator.log');
  const javaOptions: string[] = [];
  if (logDir) {
    const properties = path.join(logDir, 'logging.properties');
    await writeFile(properties, GRPC_FINE_LOGGING);
    javaOptions.push(`-Djava.util.logging.config.file=${properties}`);
  }
  const started = kind === 'stock' ? await startStock(javaOptions, logFile) : await startPatched(javaOptions, logFile);
  const port = started.host.slice(started.host.lastIndexOf(':') + 1);
  const javaPid = await waitForJavaPid(port);
  return {
    kind,
    host: started.host,
    projectId: started.projectId,
    async stop() {
      await started.stop();
      if (logDir) await rm(logDir, { recursive: true, force: true });
    },
    async callCloseFailures() {
      if (!logFile) return undefined;
      return (await readFile(logFile, 'utf8')).split('\n').filter((line) => line.includes('java.lang.NoSuchMethodError') && line.includes('InternalStatus.asRuntimeException')).length;
    },
    async pusherThreads() {
      const { stdout } = await run('jstack', [String(javaPid)], { maxBuffer: 64 * 1024 * 1024 });
      return stdout.split('\n\n').filter((block) => block.includes('FakePubsubServer$StreamingPullPusher.run')).length;
    },
  };
}

/** stock: as gcloud starts it; patched: the local stack's default, with the one-class grpc-api fix ahead of the jar. */
async function startStock(javaOptions: string[], logFile?: string): Promise<{ host: string; projectId: string; stop(): Promise<void> }> {
  return startPubsubEmulator({ flavor: 'stock', javaOptions, logFile });
}

async function startPatched(javaOptions: string[], logFile?: string): Promise<{ host: string; projectId: string; stop(): Promise<void> }> {
  return startPubsubEmulator({ flavor: 'fixed', javaOptions, logFile });
}

async function waitForJavaPid(port: string): Promise<number> {
  let pid: number | undefined;
  await waitUntil(`the emulator's java process on port ${port}`, async () => {
    const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
    const line = stdout.split('\n').find((l) => /\bjava\b/.test(l) && l.includes(`--port=${port}`));
    pid = line ? Number.parseInt(line.trim(), 10) : undefined;
    return pid !== undefined;
  }, 10_000);
  return pid!;
}
