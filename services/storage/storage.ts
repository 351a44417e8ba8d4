// The one storage interface every part of hourglass writes through: a bucket of immutable-once-created objects.
//
// Two backends implement it: a local directory laid out exactly like the bucket (the embedded
// default) and Google Cloud Storage. Keys are bucket-relative ("staging/track_played/…"). Cloud
// Storage accepts about one write per second to one object name; write-rate-guard.ts holds every
// caller to that on both backends.

export interface ObjectInfo {
  /** Key relative to the storage root. */
  readonly key: string;
  readonly size: number;
  /** Last modification time (ms since epoch). */
  readonly updatedMs: number;
  /**
   * Changes whenever the object is written again, so a reader can skip an object it has read at this version:
   * Cloud Storage's generation; locally the modification time in ns with the size and inode (a put is a rename).
   */
  readonly version: string;
}

export interface Storage {
  /** The location this storage was opened from: file:///… or gs://bucket/prefix. */
  readonly location: string;
  /**
   * Creates `key` only if no object has that key, atomically: readers see all of the bytes or no
   * object. Resolves when `key` holds exactly `data` afterwards, whether this call created it or an
   * earlier attempt of the same write did (a retried request whose first response was lost: on Cloud
   * Storage the retry meets a 412 although the first attempt landed). Throws HG_STORAGE_EXISTS when
   * the object holds other bytes.
   */
  createOnly(key: string, data: Uint8Array | string): Promise<void>;
  /** Creates or replaces `key` atomically (readers see the old or the new bytes, never a mix). */
  put(key: string, data: Uint8Array | string): Promise<void>;
  /** The whole object; throws HG_STORAGE_NOT_FOUND. */
  get(key: string): Promise<Buffer>;
  /** Bytes [start, end) of the object; throws HG_STORAGE_NOT_FOUND. */
  getRange(key: string, start: number, end: number): Promise<Buffer>;
  /** Object metadata, or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (plain string prefix, as on GCS), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Copies `from` to a new object `to`, create-only (HG_STORAGE_EXISTS if `to` exists). Cheap on
   * both backends: a hard link locally, a server-side copy on GCS; no bytes pass through us.
   */
  copy(from: string, to: string): Promise<void>;
  /** Deletes `key`; deleting an absent object is not an error. */
  delete(key: string): Promise<void>;
  /** Releases clients and handles; idempotent. */
  close(): Promise<void>;
}
