// The table committer's configuration schema: every option with its environment variable, unit, default and range (services/config), resolved and checked once at start-up.
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { integer, oneOf, text } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { bucket, gcsEndpoint, opsSettings, project, pubsubEmulatorHost, schemasDir, shutdownTimeoutMs, telemetrySettings, topicPrefix } from '../config/shared-settings.ts';

export const BIGLAKE_REST_CATALOG = 'https://biglake.googleapis.com/iceberg/v1/restcatalog';
export const TABLE_FAULTS = ['none', 'kill-before-commit'] as const;

export const TABLE_SETTINGS = settings({
  storageLocation: bucket,
  gcsEndpoint,
  pubsubEmulatorHost,
  projectId: project,
  schemasDir,
  topicPrefix,
  catalogUri: setting<string>({
    doc: "Iceberg REST catalog base URI; on Google Cloud BigLake's, so BigQuery reads the tables. Requests to a googleapis.com catalog carry the service account's token.",
    kind: text(/^https?:\/\/\S+$/, 'an http(s) URL'),
    env: ['HOURGLASS_TABLE_CATALOG_URI'],
    default: BIGLAKE_REST_CATALOG,
  }),
  warehouse: setting<string | undefined>({
    doc: 'The `warehouse` asked of the catalog (BigLake: gs://<warehouse bucket>; a local catalog: its warehouse folder).',
    kind: text(/^\S{1,1024}$/, 'a warehouse name or location (gs://bucket, file:///path), without spaces'),
    env: ['HOURGLASS_TABLE_WAREHOUSE'],
    defaultText: "the catalog's own",
  }),
  namespace: setting<string>({
    doc: 'Namespace (BigQuery: dataset) holding one table per event type that opts in ("table": true in its type.json).',
    kind: text(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a letter or _, then up to 127 of A-Z a-z 0-9 _'),
    env: ['HOURGLASS_TABLE_NAMESPACE'],
    default: 'hourglass',
  }),
  subscription: setting<string | undefined>({
    doc: 'Subscription to the closed-windows topic this committer reads.',
    kind: text(/^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/, 'a Pub/Sub subscription name'),
    env: ['HOURGLASS_TABLE_SUBSCRIPTION'],
    defaultText: '<topic prefix>closed-windows-tables',
  }),
  committerId: setting<string>({
    doc: 'Names this committer in the snapshots it makes.',
    kind: text(/^[A-Za-z0-9_.-]{1,64}$/, '1 to 64 of A-Z a-z 0-9 _ . -'),
    env: ['HOURGLASS_TABLE_COMMITTER_ID'],
    default: () => `${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 24) || 'table'}-${randomBytes(4).toString('hex')}`,
    defaultText: '<host>-<8 random hex>',
  }),
  windowsInParallel: setting<number>({
    doc: 'Closed windows converted and committed at once (of different types: one type\'s windows come in order).',
    kind: integer(1, 256),
    env: ['HOURGLASS_TABLE_WINDOWS_IN_PARALLEL'],
    default: 4,
  }),
  maxAttempts: setting<number>({
    doc: 'Commit attempts of one window while other writers keep moving the table, before it is nacked and retried later.',
    kind: integer(1, 1000),
    env: ['HOURGLASS_TABLE_MAX_ATTEMPTS'],
    default: 10,
  }),
  fault: setting<(typeof TABLE_FAULTS)[number]>({
    doc: 'Fault injection for tests: kill-before-commit kills the process (SIGKILL) after a window\'s files are written, before its commit.',
    kind: oneOf(TABLE_FAULTS),
    env: ['HOURGLASS_TABLE_FAULT'],
    default: 'none',
  }),
  shutdownTimeoutMs,
  ...opsSettings,
  ...telemetrySettings,
});

export type TableOptions = { readonly [K in keyof typeof TABLE_SETTINGS]?: Resolved<typeof TABLE_SETTINGS>[K] };
export type ResolvedTableOptions = Resolved<typeof TABLE_SETTINGS> & { readonly subscription: string };

export function resolveTableOptions(env: Readonly<Record<string, string | undefined>> = {}, overrides: TableOptions = {}): ResolvedTableOptions {
  const o = resolveSettings('table committer', TABLE_SETTINGS, { env, overrides });
  const location = o.storageLocation.startsWith('file://') && !o.storageLocation.startsWith('file:///') ? pathToFileURL(path.resolve(o.storageLocation.slice('file://'.length))).href : o.storageLocation;
  return Object.freeze({ ...o, storageLocation: location, subscription: o.subscription ?? `${o.topicPrefix}closed-windows-tables` });
}
