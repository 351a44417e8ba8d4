// What every command gets: the resolved options, the output streams, and the bucket and registry, opened on first use.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { PubSub } from '@google-cloud/pubsub';
import { fileURLToPath } from 'node:url';
import { HourglassError } from '../errors/catalogue.ts';
import { Registry } from '../registry/registry.ts';
import { isValidTypeName, TYPE_NAME_PATTERN } from '../registry/type-name.ts';
import { openStorage } from '../storage/open-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { CliError, UsageError } from './cli-error.ts';
import type { CliOptions } from './cli-options.ts';
import { Progress } from './progress.ts';

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable & { readonly isTTY?: boolean; readonly columns?: number };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export class CliContext {
  readonly options: CliOptions;
  readonly io: CliIo;
  #storage: Promise<Storage> | undefined;
  #registry: Promise<Registry> | undefined;
  #pubsub: Promise<PubSub> | undefined;

  constructor(options: CliOptions, io: CliIo) {
    this.options = options;
    this.io = io;
  }

  /** The bucket at --location; a local location must already exist (reading never creates a bucket). */
  storage(): Promise<Storage> {
    this.#storage ??= this.#openStorage();
    return this.#storage;
  }

  /** The registry from `dir`, HOURGLASS_SCHEMAS_DIR, or the shipped schemas; a broken registry is a CliError. */
  registry(dir = this.options.schemasDir): Promise<Registry> {
    this.#registry ??= Registry.load(dir === undefined ? undefined : path.resolve(this.io.cwd, dir)).catch((err: unknown) => {
      throw new CliError(`the schema registry does not load: ${(err as Error).message}`);
    });
    return this.#registry;
  }

  /** A Pub/Sub client for --project, the emulator at PUBSUB_EMULATOR_HOST when that is set; closed with the context. */
  pubsub(): Promise<PubSub> {
    // Loaded on first use: the commands that only read the bucket should not pay for the Pub/Sub client.
    this.#pubsub ??= import('@google-cloud/pubsub').then(({ PubSub }) => {
      const emulator = this.options.pubsubEmulatorHost;
      return emulator
        ? new PubSub({ projectId: this.options.project, apiEndpoint: emulator, emulatorMode: true })
        : new PubSub({ projectId: this.options.project });
    });
    return this.#pubsub;
  }

  /** A progress bar on stderr (drawing nothing unless stderr is a terminal). */
  progress(label: string, total: number | undefined, unit: string): Progress {
    return new Progress(this.io.stderr, label, total, { unit });
  }

  /** Writes a line to stdout (for short output; streams use OutputSink). */
  print(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** Writes a line to stderr. */
  warn(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** Checks a <type> argument's spelling (exit 2 when it cannot be a type). */
  typeArg(type: string, command: string): string {
    if (!isValidTypeName(type)) throw new UsageError(`"${type}" is not an event type name (types match ${TYPE_NAME_PATTERN.source})`, command);
    return type;
  }

  async close(): Promise<void> {
    const storage = await this.#storage?.catch(() => undefined);
    await storage?.close();
    const pubsub = await this.#pubsub?.catch(() => undefined);
    await pubsub?.close().catch(() => undefined);
  }

  async #openStorage(): Promise<Storage> {
    const location = this.options.location;
    const local = localPathOf(location, this.io.cwd);
    if (local !== undefined) {
      const info = await stat(local).catch(() => undefined);
      if (!info?.isDirectory()) throw new CliError(`no bucket at ${location} (${local} is not a directory); set --location or HOURGLASS_BUCKET`);
      return openStorage(local);
    }
    try {
      return await openStorage(location, { gcsEndpoint: this.options.gcsEndpoint });
    } catch (err) {
      if (err instanceof HourglassError) throw new CliError(err.message, err.code === 'HG_STORAGE_BAD_LOCATION' ? 2 : 1);
      throw err;
    }
  }
}

/** The directory of a local location (file:///abs, file://./rel, or a plain path), resolved against `cwd`; undefined for gs:// and other schemes. */
export function localPathOf(location: string, cwd: string): string | undefined {
  if (location.startsWith('file://')) {
    const rest = location.slice('file://'.length);
    return rest.startsWith('/') ? fileURLToPath(location) : path.resolve(cwd, rest);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return undefined;
  return path.resolve(cwd, location);
}
