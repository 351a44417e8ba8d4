// Makes a sealed staging file durable: the .avro object first, then its manifest (the commit point), both create-only, retried.
//
// Only a manifest tells the checker that a file exists, and it is written after the file, so a
// manifest never points at a missing or partial file; a file whose manifest never got written is
// debris (its messages were not acked and come again). A create-only write whose earlier attempt
// landed although its response was lost succeeds on retry (storage.ts: the object holds exactly our
// bytes), so "exists" is a real clash, and the file takes the next name.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../time/clock.ts';
import { hasCode, HourglassError } from '../errors/catalogue.ts';
import { layout } from '../storage/layout.ts';
import { encodeStagingManifest, manifestKeyOf, STAGING_FILE_SUFFIX, STAGING_MANIFEST_FORMAT, type StagingManifest } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import type { SealedStagingFile } from './staging-group.ts';
import { retryWrite, type RetryPolicy } from './write-retry.ts';

export type StagingWriteOutcome = { ok: true; key: string; manifestKey: string; manifest: StagingManifest } | { ok: false; error: unknown };

export interface StagingWriterOptions extends RetryPolicy {
  readonly workerId: string;
}

export class StagingWriter {
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #options: StagingWriterOptions;
  readonly #onRetry: (err: unknown) => void;
  #counter = 0;
  /**
   * Names this writer's files apart from any earlier writer's with the same worker id (a restart of a
   * worker whose id is fixed by its deployment): the checker matches staged files to a closed window by
   * name, so a reused name could make a new, late file pass for one the window already holds.
   */
  readonly #incarnation = randomBytes(4).toString('hex');

  constructor(storage: Storage, clock: Clock, options: StagingWriterOptions, onRetry: (err: unknown) => void) {
    this.#storage = storage;
    this.#clock = clock;
    this.#options = options;
    this.#onRetry = onRetry;
  }

  /** The next free name for a file of this group: staging/<type>/<window id>/<worker>-<incarnation>-<counter>-v<version>.avro */
  nextKey(file: Pick<SealedStagingFile, 'type' | 'window' | 'windowS' | 'version'>): string {
    const n = String(this.#counter++).padStart(6, '0');
    return `${layout.staging({ type: file.type, index: file.window, lengthS: file.windowS })}${this.#options.workerId}-${this.#incarnation}-${n}-v${file.version}${STAGING_FILE_SUFFIX}`;
  }

  /** Writes the file, then its manifest. ok: false means nothing may be acked (a file without manifest may be left behind). */
  async write(file: SealedStagingFile): Promise<StagingWriteOutcome> {
    const started = performance.now();
    const policy = (): RetryPolicy => ({ ...this.#options, deadlineMs: Math.max(0, this.#options.deadlineMs - (performance.now() - started)) });

    let key = this.nextKey(file);
    const wroteFile = await retryWrite(
      async () => {
        try {
          await this.#storage.createOnly(key, file.bytes);
        } catch (err) {
          if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
          const taken = key;
          key = this.nextKey(file);
          throw new HourglassError('HG_STORAGE_EXISTS', `${taken} holds another writer's file; trying ${key}`, { cause: err, retryable: true });
        }
      },
      policy(),
      this.#onRetry,
    );
    if (!wroteFile.ok) return { ok: false, error: wroteFile.error };

    const manifest: StagingManifest = {
      format: STAGING_MANIFEST_FORMAT,
      type: file.type,
      window: file.window,
      windowS: file.windowS,
      version: file.version,
      codec: file.codec,
      file: key,
      bytes: file.bytes.length,
      sha256: file.sha256,
      events: file.events,
      minReceiveUs: file.minReceiveUs,
      maxReceiveUs: file.maxReceiveUs,
      writtenAtUs: this.#clock.nowUs(),
      worker: this.#options.workerId,
      messages: file.messages,
    };
    const manifestKey = manifestKeyOf(key);
    const manifestBytes = Buffer.from(encodeStagingManifest(manifest), 'utf8');
    const wroteManifest = await retryWrite(
      () => this.#storage.createOnly(manifestKey, manifestBytes),
      policy(),
      this.#onRetry,
    );
    if (!wroteManifest.ok) return { ok: false, error: wroteManifest.error };
    return { ok: true, key, manifestKey, manifest };
  }
}
