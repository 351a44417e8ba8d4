// Runs the Pub/Sub emulator of the Google Cloud CLI on a free loopback port.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';
import { startGroup } from './process-group.ts';
import { waitUntil } from './wait-until.ts';

export interface PubsubEmulator {
  /** host:port, as PUBSUB_EMULATOR_HOST expects. */
  readonly host: string;
  readonly projectId: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startPubsubEmulator(options: { projectId?: string; logFile?: string } = {}): Promise<PubsubEmulator> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hg-pubsub-'));
  const group = startGroup(
    'gcloud',
    ['beta', 'emulators', 'pubsub', 'start', `--host-port=${host}`, `--data-dir=${dataDir}`, '--quiet', '--verbosity=error'],
    { logFile: options.logFile, env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' } },
  );
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
        if (exited) throw new Error('gcloud exited early (is the pubsub-emulator component installed?)');
        const res = await fetch(`http://${host}/`);
        return res.ok;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, projectId: options.projectId ?? 'hourglass-local', pid: group.pid, stop };
}
