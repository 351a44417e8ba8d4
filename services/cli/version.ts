// The CLI's version: the "version" of the package.json of the checkout (or image) it runs from, read when asked.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError } from './cli-error.ts';

/** services/cli/ → the package root; in the image package.json sits beside services/ too. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

/** The version this CLI runs as, from its package.json; CliError if that cannot be read. */
export function cliVersion(): string {
  const file = fileURLToPath(PACKAGE_JSON);
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
  } catch (err) {
    throw new CliError(`cannot read the version from ${file}: ${(err as Error).message}`);
  }
  if (typeof version !== 'string' || version === '') throw new CliError(`${file} has no "version"`);
  return version;
}
