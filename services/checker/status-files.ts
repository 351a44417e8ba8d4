// Each checker replica's status file (checker/status/<checker>.json, read by the status page and the CLI), and the
// removal of those that replicas gone for good left behind: a replica id is new with every process, so without it
// every restart on Cloud Run would leave one more file for every status read to list and parse.
import { deleteIfUnchanged } from '../storage/changed-objects.ts';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';

export const statusPrefix = `${layout.checker}status/`;
export const statusKey = (checkerId: string) => `${statusPrefix}${checkerId}.json`;

/**
 * Deletes the status files of replicas that are not live and have not written theirs for `olderThanMs` (by the
 * bucket's clock), each only if unchanged since listed; this replica's own is kept. Returns the keys deleted.
 */
export async function sweepGoneStatus(storage: Storage, o: { self: string; live: ReadonlySet<string>; nowMs: number; olderThanMs: number }): Promise<string[]> {
  const deleted: string[] = [];
  for (const f of await storage.list(statusPrefix)) {
    const id = f.key.slice(statusPrefix.length, -'.json'.length);
    if (id === o.self || o.live.has(id) || o.nowMs - f.updatedMs < o.olderThanMs) continue;
    if (await deleteIfUnchanged(storage, f)) deleted.push(f.key);
  }
  return deleted;
}
