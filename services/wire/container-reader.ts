// Reads an Avro container file from storage block by block, through ranged reads, so memory holds one chunk, never the file.
//
// Reading is strictly forward: chunks are fetched in order and each is handed to `onBytes` exactly
// once, so a caller can hash the whole file while it decodes it (verify does).
import { CorruptContainerError, parseContainerHeader, readLong, SYNC_MARKER_BYTES, type ContainerHeader } from './avro-container.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from './codecs.ts';
import type { Storage } from '../storage/storage.ts';

export interface ContainerReaderOptions {
  /** Bytes fetched per ranged read (more when a block is bigger). Default: 8 MiB. */
  readonly chunkBytes?: number;
  /** Called with every byte of the file, in order, as it is fetched. */
  readonly onBytes?: (chunk: Buffer) => void;
}

export interface StreamedBlock {
  /** Records the block declares. */
  readonly count: number;
  /** The compressed body: valid only until the next block is read. */
  readonly body: Buffer;
  /** Offset of the block in the file. */
  readonly offset: number;
}

/** A block prefix is two varint longs of at most 10 bytes each. */
const MAX_PREFIX_BYTES = 20;
/** A body larger than this cannot decompress within the codecs' cap: the size is corrupt. */
const MAX_BODY_BYTES = DEFAULT_MAX_OUTPUT_BYTES + 1024 * 1024;

export class ContainerReader {
  readonly key: string;
  readonly size: number;
  readonly #storage: Storage;
  readonly #chunkBytes: number;
  readonly #onBytes: ((chunk: Buffer) => void) | undefined;
  /** Buffered bytes [bufStart, bufStart + buf.length) of the file. */
  #buf: Buffer = Buffer.alloc(0);
  #bufStart = 0;
  #header: ContainerHeader | undefined;

  private constructor(storage: Storage, key: string, size: number, options: ContainerReaderOptions) {
    this.#storage = storage;
    this.key = key;
    this.size = size;
    this.#chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
    // The header is fetched in reads growing fourfold from this size: from 0 they would never grow.
    if (!Number.isSafeInteger(this.#chunkBytes) || this.#chunkBytes < 1) throw new RangeError(`chunkBytes must be a positive integer, got ${this.#chunkBytes}`);
    this.#onBytes = options.onBytes;
  }

  /** Opens `key` (whose size is `size`, e.g. from stat) and reads its header. */
  static async open(storage: Storage, key: string, size: number, options: ContainerReaderOptions = {}): Promise<ContainerReader> {
    const reader = new ContainerReader(storage, key, size, options);
    await reader.#readHeader();
    return reader;
  }

  get header(): ContainerHeader {
    return this.#header!;
  }

  /** Bytes fetched so far (the file up to here has been passed to onBytes). */
  get fetched(): number {
    return this.#bufStart + this.#buf.length;
  }

  /** Every block, in order; throws CorruptContainerError (with the file's byte offset) on a malformed frame. */
  async *blocks(): AsyncGenerator<StreamedBlock> {
    const header = this.header;
    let pos = header.byteLength;
    while (pos < this.size) {
      await this.#ensure(pos, Math.min(MAX_PREFIX_BYTES, this.size - pos));
      const local = pos - this.#bufStart;
      const count = readLong(this.#buf, local);
      if (count.value < 0) throw new CorruptContainerError(`negative block record count ${count.value}`, pos);
      const bodySize = readLong(this.#buf, count.next);
      if (bodySize.value < 0 || bodySize.value > MAX_BODY_BYTES) throw new CorruptContainerError(`bad block size ${bodySize.value}`, pos);
      const prefixBytes = bodySize.next - local;
      const blockBytes = prefixBytes + bodySize.value + SYNC_MARKER_BYTES;
      if (pos + blockBytes > this.size) {
        throw new CorruptContainerError(`truncated block: ${bodySize.value} body bytes declared, ${this.size - pos - prefixBytes} left in the file`, pos);
      }
      await this.#ensure(pos, blockBytes);
      const bodyAt = pos - this.#bufStart + prefixBytes;
      const syncAt = bodyAt + bodySize.value;
      if (!this.#buf.subarray(syncAt, syncAt + SYNC_MARKER_BYTES).equals(header.sync)) {
        throw new CorruptContainerError('sync marker does not match the header', pos + prefixBytes + bodySize.value);
      }
      yield { count: count.value, body: this.#buf.subarray(bodyAt, syncAt), offset: pos };
      pos += blockBytes;
    }
  }

  /** Fetches whatever is left of the file (so onBytes has seen all of it), e.g. after a corrupt block. */
  async readRest(): Promise<void> {
    while (this.fetched < this.size) await this.#ensure(this.fetched, Math.min(this.#chunkBytes, this.size - this.fetched));
  }

  async #readHeader(): Promise<void> {
    let want = Math.min(64 * 1024, this.#chunkBytes, this.size);
    for (;;) {
      await this.#ensure(0, want);
      try {
        this.#header = parseContainerHeader(this.#buf);
        return;
      } catch (err) {
        // A header longer than what we fetched fails as truncated: fetch more, up to the whole file.
        if (!(err instanceof CorruptContainerError) || this.fetched >= this.size) throw err;
        want = Math.min(want * 4, this.size);
      }
    }
  }

  /** Makes bytes [pos, pos + n) buffered, dropping what lies before `pos`. */
  async #ensure(pos: number, n: number): Promise<void> {
    const end = pos + n;
    if (end <= this.fetched) return;
    const from = this.fetched;
    if (pos < this.#bufStart || pos > from) throw new Error(`ContainerReader reads forward only (asked for ${pos}, buffered ${this.#bufStart}..${from})`);
    const to = Math.min(this.size, Math.max(end, from + this.#chunkBytes));
    const chunk = await this.#storage.getRange(this.key, from, to);
    if (chunk.length !== to - from) {
      throw new CorruptContainerError(`object changed or shrank while reading: asked for ${to - from} bytes, got ${chunk.length}`, from);
    }
    this.#onBytes?.(chunk);
    const keep = this.#buf.subarray(pos - this.#bufStart);
    this.#bufStart = pos;
    this.#buf = keep.length === 0 ? chunk : Buffer.concat([keep, chunk]);
  }
}
