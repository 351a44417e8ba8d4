// The keys file, re-read every few seconds so keys are added and revoked without a restart.
//
// On Cloud Run the file is a Secret Manager secret mounted as a volume at version "latest": each
// read fetches the secret's newest version, so a new version takes effect at the next poll. Polling
// (not fs.watch) because a mounted secret gives no change events. A revoked key is refused at most
// `reloadMs` (plus one read) after the file changed. A changed file that does not parse is not used:
// the keys in force stay, the problem is logged and counted, and the next good version is taken; a
// file that cannot be read at all is treated the same way. Only the start needs a good file.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { HourglassError } from '../errors/catalogue.ts';
import { parseKeysDocument, type KeyRing } from './client-keys.ts';
import type { GatewayLogger } from './log.ts';

export interface KeyFileSourceParams {
  readonly path: string;
  /** Between two reads (ms). */
  readonly reloadMs: number;
  readonly isKnownType: (type: string) => boolean;
  readonly logger: GatewayLogger;
  /** Told of every ring taken after the first (quota buckets forget removed clients). */
  readonly onReload?: (ring: KeyRing) => void;
}

export class KeyFileSource {
  readonly #p: KeyFileSourceParams;
  #ring: KeyRing;
  #digest: string;
  /** The last version that did not parse: logged once, not at every poll. */
  #rejectedDigest: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #failures = 0;

  private constructor(params: KeyFileSourceParams, ring: KeyRing, digest: string) {
    this.#p = params;
    this.#ring = ring;
    this.#digest = digest;
  }

  /** Reads the file once (a problem stops the start: HG_CONFIG_INVALID), then polls it. */
  static async open(params: KeyFileSourceParams): Promise<KeyFileSource> {
    let text: string;
    try {
      text = await readFile(params.path, 'utf8');
    } catch (err) {
      throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_GATEWAY_KEYS_FILE ${params.path} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const parsed = parseKeysDocument(text, params.isKnownType, `keys file ${params.path}`);
    const source = new KeyFileSource(params, parsed.ring, sha256(text));
    source.#logLoaded('keys_loaded', parsed.ring, parsed.unknownTypes);
    source.#schedule();
    return source;
  }

  /** The keys in force. */
  get ring(): KeyRing {
    return this.#ring;
  }

  /** Reads the file now (tests; the poll calls it too). Resolves once the read is done, whatever its outcome. */
  reload(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** Reloads that failed since the start (the keys in force stayed); a bad version counts once. */
  get failedReloads(): number {
    return this.#failures;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      void this.reload().finally(() => {
        if (this.#timer !== undefined) this.#schedule();
      });
    }, this.#p.reloadMs);
    this.#timer.unref();
  }

  async #read(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#p.path, 'utf8');
    } catch (err) {
      this.#failures++;
      this.#p.logger.error('keys_reload_failed', { path: this.#p.path, reason: 'unreadable', error: err, keeping: this.#ring.size });
      return;
    }
    const digest = sha256(text);
    if (digest === this.#digest || digest === this.#rejectedDigest) return;
    try {
      const parsed = parseKeysDocument(text, this.#p.isKnownType, `keys file ${this.#p.path}`);
      this.#ring = parsed.ring;
      this.#digest = digest;
      this.#p.onReload?.(parsed.ring);
      this.#logLoaded('keys_reloaded', parsed.ring, parsed.unknownTypes);
    } catch (err) {
      this.#failures++;
      this.#rejectedDigest = digest;
      // The message lists the problems by position, never a key's value.
      this.#p.logger.error('keys_reload_failed', { path: this.#p.path, reason: 'invalid', error: (err as Error).message, keeping: this.#ring.size });
    }
  }

  #logLoaded(event: string, ring: KeyRing, unknownTypes: string[]): void {
    this.#p.logger.info(event, { path: this.#p.path, keys: ring.size, clients: ring.clients().length });
    if (unknownTypes.length > 0) this.#p.logger.warn('keys_name_unknown_types', { path: this.#p.path, types: unknownTypes.slice(0, 50) });
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
