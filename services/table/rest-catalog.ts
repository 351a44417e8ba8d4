// A client of the Iceberg REST catalog protocol (open-api/rest-catalog-open-api.yaml): config, namespaces, load/create table, and commits guarded by requirements.
//
// Only what the table committer needs. A commit is sent with requirements (the table's uuid, the
// branch's current snapshot id, …) so the catalog applies it only on the metadata it was built
// from; a 409 means another writer got there first and the caller rebuilds on the new metadata.
// A 5xx or a lost response leaves the commit's fate unknown: the caller reloads and looks for it
// (the committer's snapshots carry the window they commit, so a landed commit is recognised).
// Every request carries an Idempotency-Key (the spec's UUIDv7), the same on a retry of the same
// request, so a catalog that honours it applies a retried commit once.
import { randomBytes } from 'node:crypto';

/**
 * A snapshot id: a 64-bit long. Ids this committer makes are below 2^53 (numbers); other engines' (Spark,
 * BigQuery, pyiceberg) use the whole range, and those are read as bigint so they are never rounded (a
 * rounded parent id would fail every commit's requirement, or name the wrong parent).
 */
export type SnapshotId = number | bigint;

/** JSON.parse keeping integers past 2^53 exact, as bigint (from the source text). */
export function parseCatalogJson(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source !== undefined ? BigInt(context.source) : value,
  );
}

/** JSON.stringify writing a bigint as the exact integer it is. */
export function stringifyCatalogJson(value: unknown): string {
  const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? rawJSON(v.toString()) : v));
}

export interface TableMetadata {
  readonly 'format-version': number;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number'?: number;
  readonly 'last-column-id': number;
  readonly 'current-schema-id': number;
  readonly schemas: ReadonlyArray<{ readonly 'schema-id': number; readonly fields: readonly unknown[] }>;
  readonly 'current-snapshot-id'?: SnapshotId | null;
  readonly snapshots?: readonly Snapshot[];
  readonly properties?: Readonly<Record<string, string>>;
}

export interface Snapshot {
  readonly 'snapshot-id': SnapshotId;
  readonly 'parent-snapshot-id'?: SnapshotId | null;
  readonly 'sequence-number'?: number;
  readonly 'timestamp-ms': number;
  readonly 'manifest-list': string;
  readonly summary: Readonly<Record<string, string>> & { readonly operation: string };
  readonly 'schema-id'?: number;
}

export interface LoadedTable {
  readonly metadataLocation: string;
  readonly metadata: TableMetadata;
}

export type Requirement = Record<string, unknown> & { readonly type: string };
export type TableUpdate = Record<string, unknown> & { readonly action: string };

/** A response the catalog gave: `status` and the error's type and message from its ErrorModel. */
export class CatalogError extends Error {
  readonly status: number;
  readonly errorType: string;
  constructor(status: number, errorType: string, message: string) {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

export interface RestCatalogOptions {
  /** Base URI, e.g. http://127.0.0.1:8181 or https://biglake.googleapis.com/iceberg/v1/restcatalog. */
  readonly uri: string;
  /** The `warehouse` the catalog is asked for in GET /v1/config. */
  readonly warehouse?: string;
  /** Headers for every request (e.g. Authorization and x-goog-user-project for BigLake); called per request so a token can refresh. */
  readonly headers?: () => Promise<Record<string, string>>;
  /** Per-request timeout (ms). Default 30000. */
  readonly timeoutMs?: number;
}

/** A UUIDv7 (RFC 9562): 48-bit ms time, version 7, variant 10, the rest random. */
export function uuidv7(nowMs = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class RestCatalog {
  readonly #uri: string;
  readonly #options: RestCatalogOptions;
  #prefix: string | undefined;

  constructor(options: RestCatalogOptions) {
    this.#uri = options.uri.replace(/\/+$/, '');
    this.#options = options;
  }

  async #request<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...(await this.#options.headers?.()) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const res = await fetch(this.#uri + path, {
      method,
      headers,
      body: body === undefined ? undefined : stringifyCatalogJson(body),
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let type = `HTTP${res.status}`;
      let message = text.slice(0, 500);
      try {
        const e = (JSON.parse(text) as { error?: { type?: string; message?: string } }).error;
        if (e?.type) type = e.type;
        if (e?.message) message = e.message;
      } catch {
        // not an ErrorModel: keep the raw text
      }
      throw new CatalogError(res.status, type, `${method} ${path}: ${res.status} ${type}: ${message}`);
    }
    return (text === '' ? undefined : parseCatalogJson(text)) as T;
  }

  /** The path prefix the catalog's config names (GET /v1/config), fetched once. */
  async #base(): Promise<string> {
    if (this.#prefix === undefined) {
      const query = this.#options.warehouse ? `?warehouse=${encodeURIComponent(this.#options.warehouse)}` : '';
      const config = await this.#request<{ overrides?: Record<string, string>; defaults?: Record<string, string> }>('GET', `/v1/config${query}`);
      const prefix = config.overrides?.prefix ?? config.defaults?.prefix;
      this.#prefix = prefix ? `/v1/${encodeURIComponent(prefix)}` : '/v1';
    }
    return this.#prefix;
  }

  /**
   * Creates the namespace; one that exists already is fine. A racing creator may also show as a server error
   * (Apache Iceberg's JDBC catalog on sqlite answers 500 to the loser of two concurrent creates), so on any
   * failure the namespace is looked up before the error is believed.
   */
  async ensureNamespace(namespace: string): Promise<void> {
    const base = await this.#base();
    try {
      await this.#request('POST', `${base}/namespaces`, { namespace: [namespace], properties: {} }, uuidv7());
    } catch (err) {
      if (err instanceof CatalogError && err.status === 409) return;
      const exists = await this.#request('GET', `${base}/namespaces/${encodeURIComponent(namespace)}`).then(
        () => true,
        () => false,
      );
      if (!exists) throw err;
    }
  }

  /** The table, or undefined when the catalog has none of that name. */
  async loadTable(namespace: string, table: string): Promise<LoadedTable | undefined> {
    try {
      const r = await this.#request<{ 'metadata-location': string; metadata: TableMetadata }>('GET', `${await this.#base()}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`);
      return { metadataLocation: r['metadata-location'], metadata: r.metadata };
    } catch (err) {
      if (err instanceof CatalogError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Creates the table (a racing creator's table is loaded instead). */
  async createTable(namespace: string, request: { name: string; schema: unknown; 'partition-spec': unknown; properties: Record<string, string>; location?: string }): Promise<LoadedTable> {
    try {
      const r = await this.#request<{ 'metadata-location': string; metadata: TableMetadata }>('POST', `${await this.#base()}/namespaces/${encodeURIComponent(namespace)}/tables`, { ...request, 'stage-create': false }, uuidv7());
      return { metadataLocation: r['metadata-location'], metadata: r.metadata };
    } catch (err) {
      if (!(err instanceof CatalogError && err.status === 409)) throw err;
      const t = await this.loadTable(namespace, request.name);
      if (!t) throw err;
      return t;
    }
  }

  /** Commits `updates` if every requirement holds; throws CatalogError (409: a requirement failed). */
  async commit(namespace: string, table: string, requirements: readonly Requirement[], updates: readonly TableUpdate[], idempotencyKey: string = uuidv7()): Promise<LoadedTable> {
    const r = await this.#request<{ 'metadata-location': string; metadata: TableMetadata }>(
      'POST',
      `${await this.#base()}/namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(table)}`,
      { identifier: { namespace: [namespace], name: table }, requirements, updates },
      idempotencyKey,
    );
    return { metadataLocation: r['metadata-location'], metadata: r.metadata };
  }
}
