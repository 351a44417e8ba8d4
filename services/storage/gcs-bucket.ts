// Storage backend on Google Cloud Storage (or fake-gcs-server), through @google-cloud/storage.
//
// Create-only uses the ifGenerationMatch: 0 precondition, so GCS itself refuses a second writer;
// single-request (non-resumable) uploads make an object appear whole or not at all.
import { Storage as GcsClient, type Bucket } from '@google-cloud/storage';
import { HourglassError } from '../errors/catalogue.ts';
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
}

export class GcsBucketStorage implements Storage {
  readonly location: string;
  readonly #client: GcsClient;
  readonly #bucket: Bucket;
  readonly #prefix: string;

  constructor(options: GcsOptions) {
    this.#prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    this.location = `gs://${options.bucket}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ''}`;
    this.#client = new GcsClient({
      ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: false } : {}),
      ...(options.projectId ? { projectId: options.projectId } : {}),
    });
    this.#bucket = this.#client.bucket(options.bucket);
  }

  async createOnly(key: string, data: Uint8Array | string): Promise<void> {
    try {
      await this.#file(key).save(toBuffer(data), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (err) {
      if (statusOf(err) === 412) throw new HourglassError('HG_STORAGE_EXISTS', `object ${key} already exists`, { cause: err });
      throw unavailableOr(err, key);
    }
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    try {
      await this.#file(key).save(toBuffer(data), { resumable: false });
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async copy(from: string, to: string): Promise<void> {
    // GCS enforces ifGenerationMatch: 0 on the rewrite; fake-gcs-server ignores it on copies, so the
    // explicit check keeps the contract there too (GCS itself needs no check: the precondition holds).
    if (await this.stat(to)) throw new HourglassError('HG_STORAGE_EXISTS', `object ${to} already exists`);
    try {
      await this.#file(from).copy(this.#file(to), { preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (err) {
      if (statusOf(err) === 412) throw new HourglassError('HG_STORAGE_EXISTS', `object ${to} already exists`, { cause: err });
      throw unavailableOr(err, from);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const [contents] = await this.#file(key).download();
      return contents;
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    try {
      const [contents] = await this.#file(key).download({ start, end: end - 1 });
      return contents;
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [meta] = await this.#file(key).getMetadata();
      return { key, size: Number(meta.size ?? 0), updatedMs: Date.parse(String(meta.updated ?? '')) || 0 };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw unavailableOr(err, key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    try {
      const [files] = await this.#bucket.getFiles({ prefix: this.#prefix + prefix, autoPaginate: true });
      return files
        .map((f) => ({
          key: f.name.slice(this.#prefix.length),
          size: Number(f.metadata.size ?? 0),
          updatedMs: Date.parse(String(f.metadata.updated ?? '')) || 0,
        }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    } catch (err) {
      throw unavailableOr(err, prefix);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      throw unavailableOr(err, key);
    }
  }

  async close(): Promise<void> {}

  #file(key: string) {
    assertObjectKey(key);
    return this.#bucket.file(this.#prefix + key);
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
  if (err instanceof HourglassError) return err;
  return new HourglassError('HG_STORAGE_UNAVAILABLE', `storage request for ${key} failed: ${(err as Error).message}`, {
    cause: err,
    retryable: status === undefined || status === 408 || status === 429 || status >= 500,
  });
}
