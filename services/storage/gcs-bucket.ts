// Storage backend on Google Cloud Storage (or fake-gcs-server), through @google-cloud/storage.
//
// Create-only uses the ifGenerationMatch: 0 precondition, so GCS itself refuses a second writer;
// single-request (non-resumable) uploads make an object appear whole or not at all. A 412 is not
// always someone else's object: when the response to a create is lost, the client retries and meets
// the object its own first attempt created, so a 412 is answered by comparing what is there with what
// we meant to write. Every call ends within the bounds of gcs-call-bounds.ts.
import { createHash } from 'node:crypto';
import { Storage as GcsClient, type Bucket, type File } from '@google-cloud/storage';
import { HourglassError } from '../errors/catalogue.ts';
import { callDeadlineMs, clientRetryOptions, DEFAULT_GCS_CALL_BOUNDS, noRetriedDownloads, withDeadline, type GcsCallBounds } from './gcs-call-bounds.ts';
import { assertObjectKey } from './object-key.ts';
import type { ObjectInfo, Storage } from './storage.ts';

export interface GcsOptions {
  /** Bucket name, without gs://. */
  readonly bucket: string;
  /** Key prefix inside the bucket ("" or "some/prefix"), without leading or trailing slash. */
  readonly prefix?: string;
  /** API endpoint, e.g. http://127.0.0.1:4443 for fake-gcs-server. Default: Google's. */
  readonly apiEndpoint?: string;
  readonly projectId?: string;
  /** Objects per list request; GCS returns at most 1000. Default: 1000. */
  readonly listPageSize?: number;
  /** How long one call may take (see gcs-call-bounds.ts). Default: DEFAULT_GCS_CALL_BOUNDS. */
  readonly callBounds?: Partial<GcsCallBounds>;
  /**
   * Look for the target before a copy. fake-gcs-server ignores ifGenerationMatch on copies (rewrite),
   * GCS does not; see copy(). Default: true when apiEndpoint is set (an emulator), false on GCS.
   */
  readonly checkCopyTarget?: boolean;
}

export class GcsBucketStorage implements Storage {
  readonly location: string;
  readonly #bucket: Bucket;
  readonly #prefix: string;
  readonly #pageSize: number;
  readonly #bounds: GcsCallBounds;
  readonly #checkCopyTarget: boolean;

  constructor(options: GcsOptions) {
    this.#prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    this.location = `gs://${options.bucket}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ''}`;
    this.#pageSize = options.listPageSize ?? 1000;
    this.#bounds = { ...DEFAULT_GCS_CALL_BOUNDS, ...options.callBounds };
    this.#checkCopyTarget = options.checkCopyTarget ?? options.apiEndpoint !== undefined;
    const client = new GcsClient({
      ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: false } : {}),
      ...(options.projectId ? { projectId: options.projectId } : {}),
      retryOptions: clientRetryOptions(this.#bounds),
      interceptors_: [noRetriedDownloads],
    });
    this.#bucket = client.bucket(options.bucket);
  }

  async createOnly(key: string, data: Uint8Array | string): Promise<void> {
    const bytes = toBuffer(data);
    try {
      await this.#call(`creating ${key}`, bytes.length, () => this.#file(key).save(bytes, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }));
    } catch (err) {
      if (statusOf(err) !== 412) throw unavailableOr(err, key);
      if (await this.#holds(key, bytes)) return;
      throw new HourglassError('HG_STORAGE_EXISTS', `object ${key} already exists`, { cause: err });
    }
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    const bytes = toBuffer(data);
    try {
      await this.#call(`writing ${key}`, bytes.length, () => this.#file(key).save(bytes, { resumable: false }));
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async copy(from: string, to: string): Promise<void> {
    // GCS enforces ifGenerationMatch: 0 on the rewrite. fake-gcs-server ignores it (pinned by a test), so
    // there the target is looked up first. That check leaves a gap on the emulator only: two copies to one
    // name racing between check and copy both succeed, the later replacing the earlier. Its one caller,
    // window-closer's finish(), copies the committed plan's source to each name, so racers write the same
    // bytes; on GCS the precondition closes the gap and the extra request is skipped.
    if (this.#checkCopyTarget && (await this.stat(to))) throw new HourglassError('HG_STORAGE_EXISTS', `object ${to} already exists`);
    try {
      await this.#call(`copying ${from} to ${to}`, 0, () => this.#file(from).copy(this.#file(to), { preconditionOpts: { ifGenerationMatch: 0 } }));
    } catch (err) {
      if (statusOf(err) === 412) throw new HourglassError('HG_STORAGE_EXISTS', `object ${to} already exists`, { cause: err });
      throw unavailableOr(err, from);
    }
  }

  async get(key: string): Promise<Buffer> {
    return this.#read(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    return this.#read(key, { start, end: end - 1 });
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [meta] = await this.#call(`reading metadata of ${key}`, 0, () => this.#file(key).getMetadata());
      return { key, size: Number(meta.size ?? 0), updatedMs: Date.parse(String(meta.updated ?? '')) || 0, version: String(meta.generation ?? '') };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw unavailableOr(err, key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let pageToken: string | undefined;
    try {
      // Page by page, each under its own deadline: a long listing is not cut short by one call's bound.
      do {
        const query = { prefix: this.#prefix + prefix, autoPaginate: false, maxResults: this.#pageSize, ...(pageToken ? { pageToken } : {}) };
        const [files, next] = await this.#call(`listing ${prefix}`, 0, () => this.#bucket.getFiles(query));
        for (const f of files) {
          out.push({ key: f.name.slice(this.#prefix.length), size: Number(f.metadata.size ?? 0), updatedMs: Date.parse(String(f.metadata.updated ?? '')) || 0, version: String(f.metadata.generation ?? '') });
        }
        pageToken = (next as { pageToken?: string } | null)?.pageToken;
      } while (pageToken);
    } catch (err) {
      throw unavailableOr(err, prefix);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#call(`deleting ${key}`, 0, () => this.#file(key).delete({ ignoreNotFound: true }));
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async close(): Promise<void> {}

  #file(key: string): File {
    assertObjectKey(key);
    return this.#bucket.file(this.#prefix + key);
  }

  #call<T>(what: string, uploadBytes: number, call: () => Promise<T>): Promise<T> {
    return withDeadline(`${this.location}: ${what}`, callDeadlineMs(this.#bounds, uploadBytes), call);
  }

  /** True when `key` holds exactly `bytes`: same size and the MD5 GCS computed (or, without one, the same bytes read back). */
  async #holds(key: string, bytes: Buffer): Promise<boolean> {
    let meta;
    try {
      [meta] = await this.#call(`reading metadata of ${key}`, 0, () => this.#file(key).getMetadata());
    } catch (err) {
      if (statusOf(err) === 404) return false; // removed since the 412
      throw unavailableOr(err, key);
    }
    if (Number(meta.size) !== bytes.length) return false;
    if (typeof meta.md5Hash === 'string') return meta.md5Hash === createHash('md5').update(bytes).digest('base64');
    return (await this.#read(key)).equals(bytes);
  }

  /** Downloads the object (or a range); fails when no byte arrives for the request timeout, however long the whole takes. */
  #read(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    const idleMs = this.#bounds.requestTimeoutMs;
    return new Promise<Buffer>((resolve, reject) => {
      const stream = this.#file(key).createReadStream(range ?? {});
      const chunks: Buffer[] = [];
      const idle = setTimeout(() => {
        stream.destroy(new HourglassError('HG_STORAGE_UNAVAILABLE', `${this.location}: reading ${key}: no data from storage for ${idleMs} ms`, { retryable: true }));
      }, idleMs);
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        idle.refresh();
      });
      stream.on('end', () => {
        clearTimeout(idle);
        resolve(Buffer.concat(chunks));
      });
      stream.on('error', (err) => {
        clearTimeout(idle);
        reject(unavailableOr(err, key));
      });
    });
  }
}

function toBuffer(data: Uint8Array | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown };
  const code = typeof e.code === 'number' ? e.code : typeof e.status === 'number' ? e.status : undefined;
  return code;
}

function unavailableOr(err: unknown, key: string): unknown {
  const status = statusOf(err);
  if (status === 404) return new HourglassError('HG_STORAGE_NOT_FOUND', `object ${key} not found`, { cause: err });
  if (status === 429) return new HourglassError('HG_STORAGE_RATE_LIMITED', `storage request for ${key} was throttled: ${(err as Error).message}`, { cause: err });
  if (err instanceof HourglassError) return err;
  return new HourglassError('HG_STORAGE_UNAVAILABLE', `storage request for ${key} failed: ${(err as Error).message}`, {
    cause: err,
    retryable: status === undefined || status === 408 || status >= 500,
  });
}
