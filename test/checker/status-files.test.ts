// Status files of checker replicas gone for good are removed (services/checker/status-files.ts): not this replica's,
// not a live one's, not a recent one, and not one written again after it was listed.
import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { statusKey, statusPrefix, sweepGoneStatus } from '../../services/checker/status-files.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { ObjectInfo } from '../../services/storage/storage.ts';
import { overrideStorage } from '../helpers/storage-override.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const HOUR_MS = 3600 * 1000;

describe('status files of replicas gone', () => {
  it('removes only those of replicas not live and unwritten for the age given, each if unchanged since listed', async () => {
    const root = await tempDir('hg-status-');
    const local = await LocalDirectoryStorage.open(root);
    const writeAs = async (id: string, ageMs: number) => {
      await local.put(statusKey(id), JSON.stringify({ checker: id }));
      const when = new Date(Date.now() - ageMs);
      await utimes(path.join(root, statusKey(id)), when, when);
    };
    for (const id of ['gone', 'rewritten', 'live-old', 'me']) await writeAs(id, 2 * HOUR_MS);
    await writeAs('recent', 1000);
    // 'rewritten' is written again between the listing and its delete (a replica that came back).
    const storage = overrideStorage(local, {
      list: async (prefix: string): Promise<ObjectInfo[]> => {
        const listed = await local.list(prefix);
        await writeAs('rewritten', 2 * HOUR_MS + 5000);
        return listed;
      },
    });
    const deleted = await sweepGoneStatus(storage, { self: 'me', live: new Set(['live-old']), nowMs: Date.now(), olderThanMs: HOUR_MS });
    assert.deepEqual(deleted, [statusKey('gone')]);
    assert.deepEqual((await local.list(statusPrefix)).map((o) => o.key).sort(), ['live-old', 'me', 'recent', 'rewritten'].map(statusKey).sort());
  });
});
