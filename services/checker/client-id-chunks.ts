// The compact form of kept client event ids: a digest and a receive time per id, spilled in chunks under checker/client-ids/.
//
// A chunk is a run of fixed 24-byte entries: the first 16 bytes of the SHA-256 of the delivered
// (scoped) event id, then its receive time in µs as a big-endian int64. Fixed entries keep the
// state small whatever the clients' ids look like (a scoped UUID is ~45 characters), and 128 bits
// make a false match (which would drop a real event) vanishingly unlikely: about 1 in 10^20 for a
// billion ids compared with a billion others. Chunks are only ever created (never rewritten); the
// window's folder holds its segments' chunks, the closing attempt's, the closed window's index of
// them (closed-client-ids.ts) and the late area's decisions (late-client-ids.ts).
import { hash } from 'node:crypto';
import { layout, windowId, type WindowRef } from '../storage/layout.ts';

export const CLIENT_ID_ENTRY_BYTES = 24;
const DIGEST_BYTES = 16;

/** What the window's index (and a segment) says of one chunk, so a reader can skip chunks outside its horizon. */
export interface ClientIdChunk {
  readonly key: string;
  readonly count: number;
  readonly oldestUs: number;
  readonly newestUs: number;
}

/** The folder of a window's client-id chunks (outside the analyst-facing hour folder; the length keeps two window lengths apart). */
export function clientIdsPrefix(ref: WindowRef): string {
  return `${layout.checker}client-ids/${ref.type}/${windowId(ref.index, ref.lengthS)}-${ref.lengthS}s/`;
}

/** The key an id is compared by: its digest (base64url, 22 characters). */
export function clientIdKey(eventId: string): string {
  return hash('sha256', eventId, 'buffer').toString('base64url', 0, DIGEST_BYTES);
}

export function encodeClientIds(entries: ReadonlyArray<readonly [key: string, receivedUs: number]>): Buffer {
  const out = Buffer.alloc(entries.length * CLIENT_ID_ENTRY_BYTES);
  entries.forEach(([key, receivedUs], i) => {
    const at = i * CLIENT_ID_ENTRY_BYTES;
    if (out.write(key, at, DIGEST_BYTES, 'base64url') !== DIGEST_BYTES) throw new Error(`not a client id key: ${key}`);
    out.writeBigInt64BE(BigInt(receivedUs), at + DIGEST_BYTES);
  });
  return out;
}

/** Calls `each` for every entry of a chunk; throws when the bytes are not whole entries. */
export function forEachClientId(bytes: Buffer, each: (key: string, receivedUs: number) => void, what = 'client-id chunk'): void {
  if (bytes.length % CLIENT_ID_ENTRY_BYTES !== 0) throw new Error(`${what}: ${bytes.length} bytes is not a whole number of ${CLIENT_ID_ENTRY_BYTES}-byte entries`);
  for (let at = 0; at < bytes.length; at += CLIENT_ID_ENTRY_BYTES) {
    each(bytes.toString('base64url', at, at + DIGEST_BYTES), Number(bytes.readBigInt64BE(at + DIGEST_BYTES)));
  }
}

/** The chunk description of `entries` stored at `key`; undefined when there are none (nothing is written then). */
export function describeChunk(key: string, entries: ReadonlyArray<readonly [string, number]>): ClientIdChunk | undefined {
  if (entries.length === 0) return undefined;
  let oldestUs = Infinity;
  let newestUs = -Infinity;
  for (const [, us] of entries) {
    oldestUs = Math.min(oldestUs, us);
    newestUs = Math.max(newestUs, us);
  }
  return { key, count: entries.length, oldestUs, newestUs };
}

/** True when some entry of the chunk can lie in [fromUs, toUs]. */
export function chunkOverlaps(chunk: Pick<ClientIdChunk, 'oldestUs' | 'newestUs'>, fromUs: number, toUs: number): boolean {
  return chunk.newestUs >= fromUs && chunk.oldestUs <= toUs;
}
