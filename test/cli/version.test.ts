// The CLI's name and version: the package bin `hourglass-events` (the npm name `hourglass` is someone else's package),
// `--version`/`-V`/`version` printing package.json's version, and usage text that names `hourglass-events`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, constants, cp, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMAND_HELP } from '../../services/cli/usage.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { runHourglass } from './run-hourglass.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

describe('hourglass-events --version', () => {
  for (const args of [['--version'], ['-V'], ['version']]) {
    it(`${args.join(' ')} prints exactly package.json's version (${pkg.version}) and exits 0`, async () => {
      const r = await runHourglass(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${pkg.version}\n`);
      assert.equal(r.stderr, '');
    });
  }

  it('wins over a command and global options, touching no bucket', async () => {
    const r = await runHourglass(['-l', '/nonexistent/hourglass-bucket', 'ls', '--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  it('is read from the package.json beside the code, not the one in the working directory', async () => {
    const elsewhere = await tempDir('hg-cli-version-');
    await writeFile(path.join(elsewhere, 'package.json'), JSON.stringify({ name: 'not-hourglass', version: '99.99.99-wrong' }));
    const r = await runHourglass(['--version'], {}, 60_000, elsewhere);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  it('follows the package.json it runs from: a copy of the CLI beside another version prints that one', async () => {
    const copy = await tempDir('hg-cli-version-copy-');
    await cp(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
    await cp(path.join(ROOT, 'services'), path.join(copy, 'services'), { recursive: true });
    await symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    await writeFile(path.join(copy, 'package.json'), JSON.stringify({ name: 'hourglass-copy', version: '7.7.7-copy', type: 'module' }));
    const r = spawnSync(process.execPath, [path.join(copy, 'bin', 'hourglass-events.ts'), '--version'], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, METADATA_SERVER_DETECTION: 'none' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '7.7.7-copy\n');
  });

  it('version with an argument is bad usage (exit 2), with its synopsis', async () => {
    const r = await runHourglass(['version', 'extra']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^hourglass-events: "version" got unexpected arguments: extra\nusage: hourglass-events version\n\(hourglass-events help version for more\)\n$/);
  });
});

describe('hourglass-events usage names the command', () => {
  it('--help prints the usage on stdout, exit 0, with --version in it', async () => {
    const r = await runHourglass(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: hourglass-events <command> \[options\]\n/);
    assert.match(r.stdout, /^ {2}-V, --version {11}the version of hourglass-events$/m);
    assert.match(r.stdout, /^ {2}version {23}the version of hourglass-events$/m);
  });

  it('no command: the error and usage say hourglass-events', async () => {
    const r = await runHourglass([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^hourglass-events: no command given\nusage: hourglass-events <command> \[options\]\n/);
    assert.match(r.stderr, /\(hourglass-events help for more\)\n$/);
  });

  for (const command of Object.keys(COMMAND_HELP)) {
    it(`help ${command} starts "usage: hourglass-events ${command}"`, async () => {
      const r = await runHourglass(['help', command]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`usage: hourglass-events ${command}`), r.stdout);
    });
  }

  it('no help text calls the command plain "hourglass"', async () => {
    const texts = [(await runHourglass(['help'])).stdout, ...Object.values(COMMAND_HELP)];
    for (const text of texts) assert.doesNotMatch(text, /\bhourglass(?![-\w])(?! bucket)/, text);
  });
});

describe('package.json bin', () => {
  const entries = Object.entries(pkg.bin);

  it('maps hourglass-events (and no longer the npm name hourglass, which is someone else\'s package)', () => {
    assert.equal(pkg.bin['hourglass-events'], 'bin/hourglass-events.ts');
    assert.equal(Object.hasOwn(pkg.bin, 'hourglass'), false);
  });

  for (const [name, file] of entries) {
    it(`${name} → ${file} exists, is executable and starts with a node shebang`, async () => {
      const full = path.join(ROOT, file);
      await access(full, constants.X_OK);
      const first = (await readFile(full, 'utf8')).split('\n', 1)[0];
      assert.equal(first, '#!/usr/bin/env node');
    });
  }

  it('the file hourglass-events names runs the CLI: --version prints the version', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, pkg.bin['hourglass-events']!), '--version'], { encoding: 'utf8', env: { ...process.env, METADATA_SERVER_DETECTION: 'none' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });
});
