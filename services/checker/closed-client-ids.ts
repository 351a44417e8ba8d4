// The closed window's client ids, kept after its staging is gone: an index of chunks, written by the close before its manifest.
//
// Late events are de-duplicated against these ids. The index is named by the closing attempt and
// created before the manifest (the commit point), so the winner's manifest always has its index;
// a window without client ids has none, and costs nothing here. The index lists the chain's
// segment chunks and the attempt's own tail chunk; nothing is copied. Memory on reading stays small:
// a reader scans only the chunks within the horizon of what it looks for, one at a time, keeping
// only the entries it asked about.
import { hasCode } from '../errors/catalogue.ts';
import type { WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import { chunkOverlaps, clientIdsPrefix, forEachClientId, type ClientIdChunk } from './client-id-chunks.ts';
import { ClientIdTimes } from './client-id-times.ts';

export const CLOSED_IDS_FORMAT = 'hg-closed-ids-1';

export interface ClosedClientIds {
  readonly format: typeof CLOSED_IDS_FORMAT;
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  /** The closing attempt that wrote it (the closed manifest's `attempt`). */
  readonly attempt: string;
  readonly chunks: ClientIdChunk[];
}

export const closedIdsIndexKey = (ref: WindowRef, attempt: string) => `${clientIdsPrefix(ref)}closed-${attempt}.json`;
/** The chunk of ids a closing attempt kept in the tail it compacted itself. */
export const tailIdsKey = (ref: WindowRef, attempt: string) => `${clientIdsPrefix(ref)}tail-${attempt}.ids`;

/** Removes what a closing attempt that did not commit wrote here (its segments' chunks belong to the chain, not to it). */
export async function removeAttemptClientIds(storage: Storage, ref: WindowRef, attempt: string): Promise<void> {
  await storage.delete(closedIdsIndexKey(ref, attempt));
  await storage.delete(tailIdsKey(ref, attempt));
}

/** Creates the index of a closing attempt; nothing when there are no chunks. Returns its key, if written. */
export async function writeClosedClientIds(storage: Storage, ref: WindowRef, attempt: string, chunks: readonly ClientIdChunk[]): Promise<string | undefined> {
  if (chunks.length === 0) return undefined;
  const index: ClosedClientIds = { format: CLOSED_IDS_FORMAT, type: ref.type, window: ref.index, windowS: ref.lengthS, attempt, chunks: [...chunks] };
  const key = closedIdsIndexKey(ref, attempt);
  await storage.createOnly(key, JSON.stringify(index));
  return key;
}

/** The index of the closed window's attempt, or undefined when it had no client ids (or was closed before indexes existed). */
export async function readClosedClientIds(storage: Storage, ref: WindowRef, attempt: string): Promise<ClosedClientIds | undefined> {
  const key = closedIdsIndexKey(ref, attempt);
  let bytes: Buffer;
  try {
    bytes = await storage.get(key);
  } catch (err) {
    if (hasCode(err, 'HG_STORAGE_NOT_FOUND')) return undefined;
    throw err;
  }
  const index = JSON.parse(bytes.toString('utf8')) as ClosedClientIds;
  if (index.format !== CLOSED_IDS_FORMAT || !Array.isArray(index.chunks)) throw new Error(`${key}: not a ${CLOSED_IDS_FORMAT} index`);
  return index;
}

/**
 * The receive times the closed window kept for the ids in `wanted`, reading only chunks that can hold one within
 * [fromUs, toUs] (the wanted records' receive times widened by the horizon).
 */
export async function closedTimesOf(storage: Storage, index: ClosedClientIds | undefined, wanted: ReadonlySet<string>, fromUs: number, toUs: number): Promise<ClientIdTimes> {
  const found = new ClientIdTimes();
  if (!index || wanted.size === 0) return found;
  for (const chunk of index.chunks) {
    if (!chunkOverlaps(chunk, fromUs, toUs)) continue;
    forEachClientId(await storage.get(chunk.key), (key, receivedUs) => {
      if (wanted.has(key)) found.add(key, receivedUs);
    }, chunk.key);
  }
  return found;
}

/**
 * Removes the window's client-id files that its closed index does not name: chunks and indexes of attempts that
 * lost or crashed. Decisions of the late area (late-*.json) are kept.
 */
export async function removeUnlistedClientIds(storage: Storage, ref: WindowRef, attempt: string): Promise<void> {
  const prefix = clientIdsPrefix(ref);
  const present = (await storage.list(prefix)).map((o) => o.key);
  if (present.length === 0) return;
  const index = await readClosedClientIds(storage, ref, attempt);
  const keep = new Set([closedIdsIndexKey(ref, attempt), ...(index?.chunks.map((c) => c.key) ?? [])]);
  for (const key of present) {
    if (keep.has(key) || key.slice(prefix.length).startsWith('late-')) continue;
    await storage.delete(key);
  }
}
