// Starts the status console on a host and port: startConsole({storage, registry, port, host}) → {url, close()}.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../registry/registry.ts';
import type { Storage } from '../storage/storage.ts';
import { createConsoleApp } from './console-app.ts';
import { BucketStatusReader } from './status-reader.ts';

export interface ConsoleOptions {
  /** The bucket to read (the console only reads). */
  readonly storage: Storage;
  /** Types shown even before they have data, with tier and owner. */
  readonly registry?: Registry;
  /** Port; 0 picks a free one. Default: 8081. */
  readonly port?: number;
  /** Interface to bind. Default: 127.0.0.1. */
  readonly host?: string;
  /** Window length (s) assumed until a checker status says otherwise. Default: 3600. */
  readonly windowS?: number;
}

export interface RunningConsole {
  /** http://host:port */
  readonly url: string;
  readonly reader: BucketStatusReader;
  /** Stops listening and closes open connections; idempotent. Does not close the storage (the caller owns it). */
  close(): Promise<void>;
}

const PAGE_FILE = new URL('./status-page.html', import.meta.url);

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const reader = new BucketStatusReader({ storage: options.storage, registry: options.registry, windowS: options.windowS });
  const app = createConsoleApp(reader, await readFile(PAGE_FILE, 'utf8'));
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<import('node:http').Server>((resolve, reject) => {
    const s = app.listen(options.port ?? 8081, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    reader,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
