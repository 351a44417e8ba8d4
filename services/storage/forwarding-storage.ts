// A storage that passes every call to another one: the base of wrappers that change only some calls (fault injection, the write-rate guard).
import type { ObjectInfo, Storage } from './storage.ts';

export class ForwardingStorage implements Storage {
  readonly location: string;
  protected readonly inner: Storage;

  constructor(inner: Storage) {
    this.inner = inner;
    this.location = inner.location;
  }

  createOnly(key: string, data: Uint8Array | string): Promise<void> {
    return this.inner.createOnly(key, data);
  }

  put(key: string, data: Uint8Array | string): Promise<void> {
    return this.inner.put(key, data);
  }

  copy(from: string, to: string): Promise<void> {
    return this.inner.copy(from, to);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }

  getRange(key: string, start: number, end: number): Promise<Buffer> {
    return this.inner.getRange(key, start, end);
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.stat(key);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
