// A storage that counts its requests by kind (list, get, put, …) on an OpenTelemetry counter: what a service costs the bucket, per operation.
import type { Counter } from '@opentelemetry/api';
import { ForwardingStorage } from './forwarding-storage.ts';
import type { ObjectInfo, Storage } from './storage.ts';

export class CountedStorage extends ForwardingStorage {
  readonly #requests: Counter;

  /** `requests`: the service's counter of bucket requests; each request adds 1 with attribute `kind` (list, get, get_range, stat, put, create_only, copy, delete). */
  constructor(inner: Storage, requests: Counter) {
    super(inner);
    this.#requests = requests;
  }

  #count(kind: string): void {
    this.#requests.add(1, { kind });
  }

  override createOnly(key: string, data: Uint8Array | string): Promise<void> {
    this.#count('create_only');
    return super.createOnly(key, data);
  }

  override put(key: string, data: Uint8Array | string): Promise<void> {
    this.#count('put');
    return super.put(key, data);
  }

  override copy(from: string, to: string): Promise<void> {
    this.#count('copy');
    return super.copy(from, to);
  }

  override delete(key: string): Promise<void> {
    this.#count('delete');
    return super.delete(key);
  }

  override get(key: string): Promise<Buffer> {
    this.#count('get');
    return super.get(key);
  }

  override getRange(key: string, start: number, end: number): Promise<Buffer> {
    this.#count('get_range');
    return super.getRange(key, start, end);
  }

  override stat(key: string): Promise<ObjectInfo | undefined> {
    this.#count('stat');
    return super.stat(key);
  }

  override list(prefix: string): Promise<ObjectInfo[]> {
    this.#count('list');
    return super.list(prefix);
  }
}
