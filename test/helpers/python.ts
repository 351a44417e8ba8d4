// Test helper: one shared Python virtualenv (.cache/venv) with the packages tests need, so tests can check our files with independent Python readers.
//
// Safe to call from many tests and many test processes at once: calls in one process share a
// promise, and processes take turns through a lock directory. Idempotent: packages already
// installed (recorded in a marker file inside the venv) are not installed again.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * fastavro reads Avro files. For the zstandard codec, fastavro ≥ 1.12 imports `backports.zstd`
 * (the standard library's `compression.zstd` from Python 3.14) and older versions `zstandard`, so
 * both are here; cramjam is for snappy.
 */
export const DEFAULT_PYTHON_PACKAGES: readonly string[] = [
  'fastavro',
  'zstandard',
  'backports.zstd; python_version < "3.14"',
  'cramjam',
];

export interface PythonVenvOptions {
  /** pip requirement specs that must be installed, e.g. `fastavro` or `polars==1.9.0`. Default: `DEFAULT_PYTHON_PACKAGES`. */
  packages?: readonly string[];
  /** Where the venv lives. Default: `<repo>/.cache/venv`. */
  venvDir?: string;
  /** Interpreter that creates the venv. Default: `python3`. */
  basePython?: string;
  /** How long to wait for another process holding the lock, in ms. Default: 600000 (a slow pip install). */
  lockTimeoutMs?: number;
}

const MARKER = 'hourglass-packages.json';
const inProcess = new Map<string, Promise<string>>();

/** Creates the venv if needed, installs what is missing, and returns the path of its python. */
export function ensurePythonVenv(options: PythonVenvOptions = {}): Promise<string> {
  const venvDir = path.resolve(options.venvDir ?? path.join(REPO_ROOT, '.cache', 'venv'));
  const packages = [...new Set(options.packages ?? DEFAULT_PYTHON_PACKAGES)].sort();
  const key = `${venvDir}\n${packages.join('\n')}`;
  let pending = inProcess.get(key);
  if (pending === undefined) {
    pending = setUp(venvDir, packages, options.basePython ?? 'python3', options.lockTimeoutMs ?? 600_000);
    // A failed set-up is not cached, so a later test can try again.
    pending.catch(() => inProcess.delete(key));
    inProcess.set(key, pending);
  }
  return pending;
}

/** Runs a Python script (given as source text) and returns its stdout; stderr is included in the error if it fails. */
export async function runPythonScript(python: string, script: string, args: readonly string[] = []): Promise<string> {
  try {
    const { stdout } = await run(python, ['-c', script, ...args], { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`python script failed: ${(err as Error).message}\n${stderr}`, { cause: err });
  }
}

async function setUp(venvDir: string, packages: string[], basePython: string, lockTimeoutMs: number): Promise<string> {
  const python = path.join(venvDir, 'bin', 'python');
  if (await hasPackages(venvDir, packages)) return python;
  await mkdir(path.dirname(venvDir), { recursive: true });
  const release = await lock(`${venvDir}.lock`, lockTimeoutMs);
  try {
    // Another process may have finished the work while we waited for the lock.
    if (await hasPackages(venvDir, packages)) return python;
    if (!(await exists(python))) await run(basePython, ['-m', 'venv', venvDir]);
    const installed = await readMarker(venvDir);
    const missing = packages.filter((p) => !installed.includes(p));
    await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...missing], {
      maxBuffer: 64 * 1024 * 1024,
    });
    await writeFile(path.join(venvDir, MARKER), JSON.stringify([...new Set([...installed, ...missing])].sort()));
    return python;
  } finally {
    await release();
  }
}

async function hasPackages(venvDir: string, packages: string[]): Promise<boolean> {
  if (!(await exists(path.join(venvDir, 'bin', 'python')))) return false;
  const installed = await readMarker(venvDir);
  return packages.every((p) => installed.includes(p));
}

async function readMarker(venvDir: string): Promise<string[]> {
  try {
    return JSON.parse(await readFile(path.join(venvDir, MARKER), 'utf8')) as string[];
  } catch {
    return [];
  }
}

/** A lock directory (mkdir is atomic) holding the owner's pid, so a lock left by a dead process is broken. */
async function lock(dir: string, timeoutMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(path.join(dir, 'pid'), String(process.pid));
      return () => rm(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(dir)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function isStale(dir: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
  } catch {
    // The owner has made the directory but not yet written its pid; give it a moment, unless the
    // directory is old, which means the owner died in between.
    const info = await stat(dir).catch(() => undefined);
    return info !== undefined && Date.now() - info.mtimeMs > 10_000;
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
