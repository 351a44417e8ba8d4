// Runs Apache Iceberg's own REST catalog test server (upstream's code from Maven Central) on 127.0.0.1 with a local warehouse, for tests.
//
// The server is org.apache.iceberg.rest.RESTCatalogServer's catalog and servlet (what the apache/iceberg-rest-fixture
// image runs) behind scripts/iceberg-rest/IcebergRestLauncher.java, which binds it to loopback only; scripts/setup.sh
// assembles both into .cache/iceberg-rest/ (nothing is built here). The backend is upstream's JdbcCatalog on a sqlite
// file, always a file: the same file after a restart gives the same catalog, and upstream's default,
// jdbc:sqlite::memory:, is one database per pooled connection (two concurrent requests: "no such table:
// iceberg_tables"). Tables' files go to the warehouse directory through HadoopFileIO.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveLocalStackOptions } from './local-stack-options.ts';
import { startGroup } from './process-group.ts';
import { waitUntil } from './wait-until.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const HOME = path.join(REPO, '.cache', 'iceberg-rest');
const SOURCES = [path.join(REPO, 'scripts', 'iceberg-rest', 'pom.xml'), path.join(REPO, 'scripts', 'iceberg-rest', 'IcebergRestLauncher.java')];
const LAUNCHER = 'org.apache.iceberg.rest.IcebergRestLauncher';
const SETUP = 'bash scripts/setup.sh --no-infra';
const LISTENING = /iceberg-rest listening on 127\.0\.0\.1:(\d+)/;

export interface IcebergRestCatalogOptions {
  /** Where the tables' files go (made if missing); the catalog's warehouse is its file:// URL. */
  readonly warehouseDir: string;
  /** The catalog's sqlite file (made if missing); a restart on the same file keeps the catalog. Default: a temporary file, removed by stop(). */
  readonly catalogDbFile?: string;
  /** Default 0: a free port, picked by the server. */
  readonly port?: number;
  /** Also append the server's output to this file. */
  readonly logFile?: string;
  /** More catalog properties, e.g. `{ 'jdbc.strict-mode': 'false' }` (passed as upstream's CATALOG_* variables: no `_` in keys). */
  readonly properties?: Readonly<Record<string, string>>;
  /** How long to wait for GET /v1/config to answer. Default 60 s (a JVM on a busy 2-core machine). */
  readonly startTimeoutMs?: number;
}

export interface IcebergRestCatalog {
  /** http://127.0.0.1:port, the REST catalog's base URI (its routes are under /v1/). */
  readonly uri: string;
  /** file:///… of the warehouse directory. */
  readonly warehouse: string;
  readonly port: number;
  readonly pid: number;
  readonly catalogDbFile: string;
  /** The server's last lines of output. */
  logTail(): string;
  /** Stops the server (SIGTERM, then SIGKILL); resolves when its process group is gone. Idempotent. */
  stop(): Promise<void>;
}

export async function startIcebergRestCatalog(options: IcebergRestCatalogOptions): Promise<IcebergRestCatalog> {
  const java = await installedJava();
  const warehouseDir = path.resolve(options.warehouseDir);
  await mkdir(warehouseDir, { recursive: true });
  const warehouse = pathToFileURL(warehouseDir).href;
  const dbDir = options.catalogDbFile === undefined ? await mkdtemp(path.join(os.tmpdir(), 'hg-iceberg-catalog-')) : undefined;
  const catalogDbFile = path.resolve(options.catalogDbFile ?? path.join(dbDir!, 'catalog.db'));
  await mkdir(path.dirname(catalogDbFile), { recursive: true });

  // Upstream reads its catalog properties from CATALOG_* variables only: none from this process's environment.
  const childEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CATALOG_')));
  const properties: Record<string, string> = {
    'catalog-impl': 'org.apache.iceberg.jdbc.JdbcCatalog',
    uri: `jdbc:sqlite:${catalogDbFile}`,
    'jdbc.strict-mode': 'true', // as the apache/iceberg-rest-fixture image
    ...options.properties,
    warehouse,
  };
  for (const [key, value] of Object.entries(properties)) {
    if (key.includes('_')) throw new Error(`catalog property ${key}: upstream reads CATALOG_* variables, where _ stands for .`);
    const variable = `CATALOG_${key.replaceAll('-', '__').replaceAll('.', '_').toUpperCase()}`;
    childEnv[variable] = value;
  }

  const classPath = `${path.join(HOME, 'classes')}${path.delimiter}${path.join(HOME, 'lib', '*')}`;
  const group = startGroup(java, ['-Xmx512m', '-XX:+UseSerialGC', '-cp', classPath, LAUNCHER, String(options.port ?? 0)], { env: childEnv, logFile: options.logFile });
  const lines: string[] = [];
  let port: number | undefined;
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      port ??= Number(LISTENING.exec(line)?.[1]) || undefined;
      lines.push(line);
    }
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  group.child.stdout?.on('data', onData);
  group.child.stderr?.on('data', onData);
  const logTail = () => [...lines.slice(-40), partial].join('\n').trim();

  const stop = async () => {
    await group.stop();
    if (dbDir) await rm(dbDir, { recursive: true, force: true });
  };
  let exitCode: number | null | undefined;
  void group.exited.then((code) => (exitCode = code));
  try {
    await waitUntil(
      'the Iceberg REST catalog',
      async () => {
        if (exitCode !== undefined) throw new Error(`the server exited (code ${exitCode}) before it answered`);
        return port !== undefined && (await fetch(`http://127.0.0.1:${port}/v1/config`)).ok;
      },
      options.startTimeoutMs ?? 60_000,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- its output (last lines) ---\n${logTail()}`, { cause: err });
  }
  return { uri: `http://127.0.0.1:${port}`, warehouse, port: port!, pid: group.pid, catalogDbFile, logTail, stop };
}

/** The java to run, once setup has assembled the server; otherwise an error that says what is missing and how to install it. */
async function installedJava(): Promise<string> {
  // setup writes the stamp (sha256 of the sources) last, into a folder it then moves into place whole.
  const hash = createHash('sha256');
  for (const source of SOURCES) hash.update(await readFile(source));
  const stamp = await readFile(path.join(HOME, 'stamp'), 'utf8').catch(() => undefined);
  if (stamp?.trim() !== hash.digest('hex')) {
    const what = stamp === undefined ? `no ${path.join(HOME, 'lib')} and launcher` : `${HOME} was assembled from another scripts/iceberg-rest/`;
    throw new Error(`the Iceberg REST catalog is not installed: ${what}. Run \`${SETUP}\` (it fetches the server from Maven Central with mvn)`);
  }
  const java = resolveLocalStackOptions().java;
  const runs = await new Promise<boolean>((resolve) => execFile(java, ['-version'], (err) => resolve(!err)));
  if (runs) return java;
  throw new Error(`${java} (HOURGLASS_JAVA, default: java on PATH) does not run: the Iceberg REST catalog needs Java 17 or later ('apt-get install -y openjdk-17-jdk-headless', then \`${SETUP}\`)`);
}
