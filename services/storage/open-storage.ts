// Opens the storage a location names: file:///path (or a plain path) for a local directory, gs://bucket/prefix for GCS.
//
// Every storage opened here runs under the write-rate guard (write-rate-guard.ts), so no backend lets
// a process rewrite one object name faster than Cloud Storage would.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HourglassError } from '../errors/catalogue.ts';
import { FaultyStorage, type FaultOptions } from './faulty-storage.ts';
import { GcsBucketStorage, type GcsOptions } from './gcs-bucket.ts';
import { LocalDirectoryStorage } from './local-directory.ts';
import type { Storage } from './storage.ts';
import { WriteRateGuard } from './write-rate-guard.ts';

export interface OpenStorageOptions {
  /** For gs:// locations: an API endpoint such as fake-gcs-server's. */
  readonly gcsEndpoint?: string;
  readonly projectId?: string;
  /** Fault injection for chaos runs (see faulty-storage.ts); off when absent. */
  readonly faults?: FaultOptions;
  /** For gs:// locations: list page size and call bounds (tests make them small). */
  readonly gcs?: Pick<GcsOptions, 'listPageSize' | 'callBounds'>;
}

export async function openStorage(location: string, options: OpenStorageOptions = {}): Promise<WriteRateGuard> {
  const storage = await openLocation(location, options);
  // The guard outermost: it sees the writes as callers do (a fault injected after a write landed is a
  // failure to it, so the caller's retry of that write is not taken for a rewrite).
  return new WriteRateGuard(options.faults ? new FaultyStorage(storage, options.faults) : storage);
}

async function openLocation(location: string, options: OpenStorageOptions): Promise<Storage> {
  if (location.startsWith('gs://')) {
    const rest = location.slice('gs://'.length);
    const [bucket = '', ...prefix] = rest.split('/');
    if (!/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/.test(bucket)) {
      throw new HourglassError('HG_STORAGE_BAD_LOCATION', `${location}: "${bucket}" is not a valid bucket name`);
    }
    return new GcsBucketStorage({ bucket, prefix: prefix.join('/'), apiEndpoint: options.gcsEndpoint, projectId: options.projectId ?? (options.gcsEndpoint ? 'hourglass-local' : undefined), ...options.gcs });
  }
  if (location.startsWith('file://')) {
    const rest = location.slice('file://'.length);
    // file:///abs/path is a URL; file://./rel and file://rel are taken relative to the working directory.
    return LocalDirectoryStorage.open(rest.startsWith('/') ? fileURLToPath(location) : path.resolve(rest));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new HourglassError('HG_STORAGE_BAD_LOCATION', `${location}: unsupported storage location (use file:///path or gs://bucket/prefix)`);
  }
  return LocalDirectoryStorage.open(path.resolve(location));
}
