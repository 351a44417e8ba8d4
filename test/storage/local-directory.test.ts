// The storage contract on the local-directory backend, plus: a writer killed mid-put leaves no visible object, and openStorage() guards it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { openStorage } from '../../services/storage/open-storage.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { storageContract } from './storage-contract.ts';

const killedWriter = new URL('../fixtures/storage-writer.ts', import.meta.url).pathname;

describe('local directory storage', () => {
  storageContract(async () => LocalDirectoryStorage.open(await tempDir()));

  it('openStorage() puts the write-rate guard in front of the directory', async () => {
    const s = await openStorage(await tempDir());
    await s.put('state.json', 'a');
    await assert.rejects(s.put('state.json', 'b'), (e) => hasCode(e, 'HG_STORAGE_RATE_LIMITED'));
    assert.deepEqual(s.refused.length, 1);
  });

  it('opens file:// locations and plain paths; refuses unknown schemes', async () => {
    const dir = await tempDir();
    assert.equal((await openStorage(`file://${dir}`)).location, `file://${dir}`);
    assert.equal((await openStorage(dir)).location, `file://${dir}`);
    const relative = path.relative(process.cwd(), dir);
    assert.equal((await openStorage(`file://./${relative}`)).location, `file://${dir}`, 'file://./relative resolves against the working directory');
    await assert.rejects(openStorage('s3://bucket/x'), /unsupported storage location/);
    await assert.rejects(openStorage('gs://Bad_Bucket!'), /not a valid bucket name/);
  });

  for (const mode of ['createOnly', 'put'] as const) {
    it(`a process killed with SIGKILL in the middle of a large ${mode} leaves no visible partial object`, async () => {
      const dir = await tempDir();
      // Several kill points: before, during and around the write of a 256 MiB object.
      let interrupted = 0;
      for (const delayMs of [0, 5, 30, 120, 400]) {
        const key = `big/${mode}-${delayMs}.bin`;
        const child = spawn(process.execPath, [killedWriter, dir, key, mode, String(256 * 1024 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] });
        // Listen for the exit at once: a fast machine may finish the write before the kill.
        const exited = new Promise((r) => child.once('exit', r));
        let out = '';
        await new Promise<void>((resolve) => child.stdout.setEncoding('utf8').on('data', (d: string) => ((out += d), resolve())));
        await new Promise((r) => setTimeout(r, delayMs));
        child.kill('SIGKILL');
        await exited;
        if (!out.includes('done')) interrupted++;
        const storage = await LocalDirectoryStorage.open(dir);
        const info = await storage.stat(key);
        // Either the whole object is there (the write finished before the kill) or nothing is.
        if (info) assert.equal(info.size, 256 * 1024 * 1024, `partial object visible after kill at ${delayMs} ms`);
        for (const o of await storage.list('big/')) assert.equal(o.size, 256 * 1024 * 1024, `partial object ${o.key}`);
        await storage.delete(key);
      }
      // The fault must have hit writes in progress, not only finished ones: the writer never said "done",
      // and what it had written so far is debris in the hidden temp area, which list() never shows.
      assert.ok(interrupted > 0, 'no kill landed before the write finished');
      const debris = await readdir(path.join(dir, '.hourglass-tmp'));
      assert.ok(debris.length > 0, 'no kill left a partly written temp file');
      const visible = await readdir(dir);
      assert.ok(visible.every((name) => name === '.hourglass-tmp' || name === 'big'), `unexpected entries: ${visible.join(', ')}`);
      assert.deepEqual(await (await LocalDirectoryStorage.open(dir)).list(''), []);
      assert.ok(path.isAbsolute(dir));
    });
  }
});
