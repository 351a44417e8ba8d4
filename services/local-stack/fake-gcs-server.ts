// Runs fake-gcs-server (a GCS emulator) on a free loopback port, building it from its Go module on first use.
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';
import { startGroup } from './process-group.ts';
import { waitUntil } from './wait-until.ts';
import { resolveLocalStackOptions } from './local-stack-options.ts';

export const FAKE_GCS_MODULE = 'github.com/fsouza/fake-gcs-server@v1.56.1';
const CACHE_BIN = fileURLToPath(new URL('../../.cache/bin/', import.meta.url));

export interface FakeGcsServer {
  /** http://127.0.0.1:port, for @google-cloud/storage's apiEndpoint. */
  readonly endpoint: string;
  readonly pid: number;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Path to a fake-gcs-server binary: $FAKE_GCS_SERVER, the cached build, or a fresh `go install` into the cache. */
export async function ensureFakeGcsBinary(): Promise<string> {
  const configured = resolveLocalStackOptions().fakeGcsServer;
  if (configured) return configured;
  const cached = path.join(CACHE_BIN, 'fake-gcs-server');
  try {
    await access(cached);
    return cached;
  } catch {
    await mkdir(CACHE_BIN, { recursive: true });
    await promisify(execFile)('go', ['install', FAKE_GCS_MODULE], {
      env: { ...process.env, GOBIN: CACHE_BIN, GOFLAGS: '-mod=mod' },
      timeout: 15 * 60_000,
    });
    return cached;
  }
}

export interface FakeGcsOptions {
  readonly logFile?: string;
  /**
   * Where it keeps objects. `memory` (the default): fast for the few hundred objects of most tests. Its
   * every create and read scans the bucket's whole object list under one lock, so a create costs time
   * linear in the objects stored (chaos/fake-gcs-scaling.ts: 4 ms at 1,000 objects, 39 ms at 10,000):
   * a long run that keeps thousands of objects times out on the emulator, not on hourglass.
   * `filesystem`: a folder (made here, removed by stop()); a create costs the same at 20,000 objects.
   */
  readonly backend?: 'memory' | 'filesystem';
}

export async function startFakeGcsServer(options: FakeGcsOptions = {}): Promise<FakeGcsServer> {
  const binary = await ensureFakeGcsBinary();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const root = options.backend === 'filesystem' ? await mkdtemp(path.join(os.tmpdir(), 'hg-fake-gcs-')) : undefined;
  const group = startGroup(
    binary,
    [
      '-scheme', 'http', '-host', '127.0.0.1', '-port', String(port),
      '-backend', options.backend ?? 'memory', ...(root ? ['-filesystem-root', root] : []),
      '-public-host', `127.0.0.1:${port}`, '-log-level', 'error',
    ],
    { logFile: options.logFile },
  );
  const stop = async () => {
    await group.stop();
    if (root) await rm(root, { recursive: true, force: true });
  };
  try {
    await waitUntil(`fake-gcs-server on ${endpoint}`, async () => (await fetch(`${endpoint}/storage/v1/b`)).ok, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const createBucket = async (name: string) => {
    const res = await fetch(`${endpoint}/storage/v1/b?project=hourglass-local`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (!res.ok && res.status !== 409) throw new Error(`creating bucket ${name} failed: ${res.status} ${await res.text()}`);
  };
  return { endpoint, pid: group.pid, createBucket, stop };
}
