// Runs the Pub/Sub emulator of the Google Cloud CLI on a free loopback port: by default with a one-class fix that makes it redeliver what a dead subscriber held.
//
// Why the fix (chaos/EMULATOR.md): the emulator's jar pairs grpc-core 1.68.1 with an older grpc-api that
// lacks InternalStatus.asRuntimeException(Status, Metadata, boolean). When a subscriber's connection dies
// without a half-close (a worker SIGKILLed, a reset connection), grpc-java throws NoSuchMethodError and
// never closes the call, and the emulator's StreamingPull keeps leasing messages to a stream nobody reads
// for up to 30 minutes: at-least-once delivery silently breaks. `fixed` (the default) runs the emulator's
// own main class with that one method supplied ahead of its jar (pubsub-emulator-fix/, compiled once with
// javac into .cache/); `stock` starts it as gcloud does (HOURGLASS_PUBSUB_EMULATOR=stock), for reproductions.
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
import { startGroup } from './process-group.ts';
import { waitUntil } from './wait-until.ts';
import { resolveLocalStackOptions } from './local-stack-options.ts';

const run = promisify(execFile);
const MAIN_CLASS = 'com.google.cloud.pubsub.testing.v1.Main';
const FIX_SOURCE = fileURLToPath(new URL('./pubsub-emulator-fix/io/grpc/InternalStatus.java', import.meta.url));
const FIX_CACHE = fileURLToPath(new URL('../../.cache/pubsub-emulator-fix/', import.meta.url));

export type EmulatorFlavor = 'fixed' | 'stock';

export interface PubsubEmulatorOptions {
  readonly projectId?: string;
  readonly logFile?: string;
  /** Default: HOURGLASS_PUBSUB_EMULATOR, else `fixed`. */
  readonly flavor?: EmulatorFlavor;
  /** JVM options (for `stock`, passed as gcloud's JAVA_OPTS). */
  readonly javaOptions?: readonly string[];
}

export interface PubsubEmulator {
  /** host:port, as PUBSUB_EMULATOR_HOST expects. */
  readonly host: string;
  readonly projectId: string;
  readonly pid: number;
  readonly flavor: EmulatorFlavor;
  /**
   * StreamingPull streams the emulator still serves (its pusher threads, from a jstack thread dump). Once
   * every subscriber has closed, any left is a stream it lost track of, holding messages from everyone.
   */
  streamingPullThreads(): Promise<number>;
  stop(): Promise<void>;
}

export async function startPubsubEmulator(options: PubsubEmulatorOptions = {}): Promise<PubsubEmulator> {
  const flavor = options.flavor ?? flavorFromEnv();
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const projectId = options.projectId ?? 'hourglass-local';
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hg-pubsub-'));
  const group =
    flavor === 'stock'
      ? startGroup('gcloud', ['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--data-dir=${dataDir}`, '--quiet', '--verbosity=error'], {
          logFile: options.logFile,
          env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1', ...(options.javaOptions?.length ? { JAVA_OPTS: options.javaOptions.join(' ') } : {}) },
        })
      : startGroup('java', [...(options.javaOptions ?? []), '-cp', await fixedClassPath(), MAIN_CLASS, '--host=127.0.0.1', `--port=${port}`], { logFile: options.logFile });
  const stop = async () => {
    await group.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    let exited = false;
    void group.exited.then(() => (exited = true));
    await waitUntil(
      `the Pub/Sub emulator on ${host}`,
      async () => {
        if (exited) throw new Error(`the emulator exited early (${flavor === 'stock' ? 'gcloud: is the pubsub-emulator component installed?' : 'java'}); see its log`);
        const res = await fetch(`http://${host}/`);
        return res.ok;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host,
    projectId,
    pid: group.pid,
    flavor,
    streamingPullThreads: async () => {
      const pid = flavor === 'stock' ? await javaPidOf(port) : group.pid;
      const { stdout } = await run('jstack', [String(pid)], { maxBuffer: 64 * 1024 * 1024 });
      return stdout.split('\n\n').filter((block) => block.includes('FakePubsubServer$StreamingPullPusher.run')).length;
    },
    stop,
  };
}

function flavorFromEnv(): EmulatorFlavor {
  return resolveLocalStackOptions().pubsubEmulator;
}

/** The emulator's jar in the Google Cloud CLI. */
export async function emulatorJar(): Promise<string> {
  const { stdout } = await run('gcloud', ['info', '--format=value(installation.sdk_root)']);
  const lib = path.join(stdout.trim(), 'platform', 'pubsub-emulator', 'lib');
  const jar = (await readdir(lib).catch(() => [])).find((f) => /^cloud-pubsub-emulator-.*\.jar$/.test(f));
  if (!jar) throw new Error(`no cloud-pubsub-emulator jar in ${lib}: install the Google Cloud CLI's pubsub-emulator component`);
  return path.join(lib, jar);
}

/** The fix's classes (compiled once per emulator jar, into .cache/) ahead of the jar. */
async function fixedClassPath(): Promise<string> {
  const jar = await emulatorJar();
  const classes = path.join(FIX_CACHE, path.basename(jar, '.jar'));
  try {
    await access(path.join(classes, 'io', 'grpc', 'InternalStatus.class'));
  } catch {
    // Compiled beside, then renamed into place: concurrent test processes never see half a class folder.
    await mkdir(FIX_CACHE, { recursive: true });
    const tmp = await mkdtemp(path.join(FIX_CACHE, 'tmp-'));
    await run('javac', ['-nowarn', '-cp', jar, '-d', tmp, FIX_SOURCE]);
    await rename(tmp, classes).catch(async (err: NodeJS.ErrnoException) => {
      await rm(tmp, { recursive: true, force: true });
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  }
  return `${classes}${path.delimiter}${jar}`;
}

async function javaPidOf(port: number): Promise<number> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  const line = stdout.split('\n').find((l) => /\bjava\b/.test(l) && (l.includes(`--port=${port}`) || l.includes(`:${port}`)));
  if (!line) throw new Error(`no java process of the emulator on port ${port}`);
  return Number.parseInt(line.trim(), 10);
}
