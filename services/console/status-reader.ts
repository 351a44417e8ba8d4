// Builds the status snapshot from the bucket alone: the checkers' status files, the closed manifests, late manifests and dead letters of recent windows.
//
// Nothing here talks to a checker: any number of consoles (and `hourglass-events status`) can read a bucket
// that any number of checker replicas write. Closed manifests, late manifests and dead letters never
// change once written, so each is read once and cached; only folder listings and the small status
// files are read on every refresh, and only for the partitions of the recent range.
import { mapLimit } from '../concurrency/map-limit.ts';
import type { WindowState } from '../checker/checker.ts';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { layout, windowId, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import { windowEndUs, windowOf, windowStartUs } from '../wire/window.ts';
import { BoundedCache } from './bounded-cache.ts';
import { partitionPrefixes, partitionStartMs } from './bucket-partitions.ts';
import type { CellState, CheckerSummary, PublisherSummary, StatusCell, StatusSnapshot, StatusType, WindowDetail } from './status-model.ts';

export interface StatusReaderOptions {
  readonly storage: Storage;
  /** Types to show even without data, with their tier and owner. */
  readonly registry?: Registry;
  /** Window length (s) to assume when no checker status says. Default: 3600. */
  readonly windowS?: number;
  /** Clock (ms). Default: Date.now. */
  readonly nowMs?: () => number;
}

export interface SnapshotRequest {
  /** Windows to show, ending with the current one. Default: 24; at most 500, and at most 62 days. */
  readonly windows?: number;
  /** Only this type. */
  readonly type?: string;
}

/** A checker whose status file is older than this is reported as stale. */
export const STALE_STATUS_MS = 30_000;
export const DEFAULT_WINDOWS = 24;
const MAX_WINDOWS = 500;
const MAX_RANGE_MS = 62 * 86_400_000;
/** Dead letters read per snapshot (the rest wait for the next refresh): a flood must not stall the page. */
const MAX_DEAD_LETTER_READS = 2000;
/** Storage requests in flight at once. */
const CONCURRENCY = 8;

interface CheckerStatusFile {
  readonly checker: string;
  readonly updatedAt: string;
  readonly windowS: number;
  readonly windows: readonly WindowState[];
  readonly publishers?: readonly PublisherSummary[];
  readonly errors?: readonly string[];
}

interface ManifestSummary {
  readonly type: string;
  readonly window: number;
  readonly windowS: number;
  readonly status: 'complete' | 'incomplete';
  readonly events: number;
  readonly closeDelayMs: number;
  readonly lostEvents: number;
  readonly abandonedEvents: number;
}

interface LateSummary {
  readonly key: string;
  readonly window: number;
  readonly windowS: number;
  readonly events: number;
  readonly movedAt?: string;
  readonly publishers?: unknown;
}

interface DeadLetterSummary {
  readonly key: string;
  /** The window its attributes name, when they name one. */
  readonly window?: number;
  readonly windowS?: number;
  readonly atMs: number;
  readonly reason: string;
  readonly detail?: string;
  readonly messageId?: string;
}

type MutableCell = { -readonly [K in keyof StatusCell]: StatusCell[K] };

const STATE_RANK: Record<CellState, number> = { unknown: 0, open: 1, closing: 2, closed: 3, incomplete: 3 };

export class BucketStatusReader {
  readonly #storage: Storage;
  readonly #registry: Registry | undefined;
  readonly #fallbackWindowS: number;
  readonly #nowMs: () => number;
  readonly #manifests = new BoundedCache<ManifestSummary>(20_000);
  readonly #late = new BoundedCache<LateSummary>(20_000);
  readonly #deadLetters = new BoundedCache<DeadLetterSummary>(20_000);
  #lastWindowS: number | undefined;

  constructor(options: StatusReaderOptions) {
    this.#storage = options.storage;
    this.#registry = options.registry;
    this.#fallbackWindowS = options.windowS ?? 3600;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  get location(): string {
    return this.#storage.location;
  }

  /** The window length of the latest snapshot (or the fallback before the first). */
  get windowS(): number {
    return this.#lastWindowS ?? this.#fallbackWindowS;
  }

  async snapshot(request: SnapshotRequest = {}): Promise<StatusSnapshot> {
    const nowMs = this.#nowMs();
    const notes: string[] = [];
    const statuses = await this.#readStatusFiles(notes);
    const newest = statuses.reduce<CheckerStatusFile | undefined>((a, s) => (!a || s.updatedAt > a.updatedAt ? s : a), undefined);
    const windowS = newest?.windowS ?? this.#fallbackWindowS;
    this.#lastWindowS = windowS;
    const current = windowOf(nowMs * 1000, windowS);
    const count = Math.max(1, Math.min(request.windows ?? DEFAULT_WINDOWS, MAX_WINDOWS, Math.floor(MAX_RANGE_MS / (windowS * 1000))));
    const first = current - count + 1;
    const fromMs = windowStartUs(first, windowS) / 1000;
    const inRange = (w: number) => w >= first && w <= current;

    const types = this.#types(statuses, request.type);
    const typeNames = new Set(types.map((t) => t.name));
    const cells = new Map<string, MutableCell>();
    const cellOf = (type: string, window: number): MutableCell => {
      const key = `${type}/${window}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = {
          type, window, windowStart: new Date(windowStartUs(window, windowS) / 1000).toISOString(), windowId: windowId(window, windowS),
          state: 'unknown', lateEvents: 0, deadLetters: 0, path: layout.closed({ type, index: window, lengthS: windowS }), hasManifest: false, source: 'bucket',
        };
        cells.set(key, cell);
      }
      return cell;
    };

    // 1. What the checkers say; the most advanced state wins, then the newest report.
    const rankOf = new Map<string, { rank: number; updatedAt: string }>();
    for (const status of statuses) {
      if (status.windowS !== windowS) continue;
      for (const w of status.windows) {
        if (!typeNames.has(w.type) || !inRange(w.window)) continue;
        const key = `${w.type}/${w.window}`;
        const rank = STATE_RANK[w.state] ?? 0;
        const seen = rankOf.get(key);
        if (seen && (seen.rank > rank || (seen.rank === rank && seen.updatedAt >= status.updatedAt))) continue;
        rankOf.set(key, { rank, updatedAt: status.updatedAt });
        const cell = cellOf(w.type, w.window);
        Object.assign(cell, {
          state: w.state, source: 'checker', stagedEvents: w.stagedEvents, events: w.events, closeDelayMs: w.closeDelayMs,
          lostEvents: w.lostEvents, abandonedEvents: w.abandonedEvents, waitingOn: w.waitingOn, lateEvents: w.lateEvents ?? 0,
        });
      }
    }

    // 2. The closed manifests of the range: authoritative, and there even when no checker reports.
    const prefixes = partitionPrefixes(fromMs, nowMs);
    const toList: Array<{ type: string; area: 'closed' | 'late' | 'dead'; prefix: string }> = [];
    for (const type of typeNames) {
      for (const p of prefixes) toList.push({ type, area: 'closed', prefix: `${type}/${p}` }, { type, area: 'late', prefix: `late/${type}/${p}` });
    }
    for (const type of [...typeNames, '_unknown']) for (const p of prefixes) toList.push({ type, area: 'dead', prefix: `deadletter/${type}/${p}` });
    const listings = await mapLimit(toList, CONCURRENCY, async (l) => ({ ...l, objects: await this.#storage.list(l.prefix) }));
    const manifestKeys: Array<{ type: string; key: string; success: boolean }> = [];
    const lateKeys: string[] = [];
    const deadKeys: Array<{ type: string; key: string }> = [];
    for (const l of listings) {
      if (l.area === 'closed') {
        const names = new Set(l.objects.map((o) => o.key));
        for (const o of l.objects) {
          if (!o.key.endsWith(`/${layout.manifestName}`)) continue;
          const dir = o.key.slice(0, -layout.manifestName.length);
          const startMs = partitionStartMs(dir);
          if (startMs === undefined || startMs < fromMs - windowS * 1000 || startMs > nowMs) continue;
          manifestKeys.push({ type: l.type, key: o.key, success: names.has(dir + layout.successName) });
        }
      } else if (l.area === 'late') {
        for (const o of l.objects) if (/\/late-[^/]*\.manifest\.json$/.test(o.key)) lateKeys.push(o.key);
      } else {
        for (const o of l.objects) if (o.key.endsWith('.json')) deadKeys.push({ type: l.type, key: o.key });
      }
    }
    await mapLimit(manifestKeys, CONCURRENCY, async ({ type, key, success }) => {
      const m = await this.#manifests.getOrLoad(key, () => this.#readManifestSummary(key)).catch((err: unknown) => {
        notes.push(`unreadable manifest ${key}: ${(err as Error).message}`);
        return undefined;
      });
      if (!m || m.windowS !== windowS || !inRange(m.window)) return;
      const cell = cellOf(type, m.window);
      Object.assign(cell, {
        state: success ? (m.status === 'complete' ? 'closed' : 'incomplete') : 'closing', source: 'manifest', hasManifest: true, events: m.events,
        closeDelayMs: m.closeDelayMs, lostEvents: m.lostEvents, abandonedEvents: m.abandonedEvents, waitingOn: undefined, stagedEvents: undefined,
      });
    });

    // 3. Late events, from the late manifests (the checker's own count is lost when it restarts).
    const lateByCell = new Map<string, number>();
    await mapLimit(lateKeys, CONCURRENCY, async (key) => {
      const late = await this.#late.getOrLoad(key, () => this.#readLateSummary(key)).catch(() => undefined);
      if (!late || late.windowS !== windowS || !inRange(late.window)) return;
      const type = key.split('/')[1]!;
      lateByCell.set(`${type}/${late.window}`, (lateByCell.get(`${type}/${late.window}`) ?? 0) + late.events);
    });
    for (const [key, events] of lateByCell) {
      const [type, window] = key.split('/') as [string, string];
      const cell = cellOf(type, Number(window));
      cell.lateEvents = Math.max(cell.lateEvents, events);
    }

    // 4. Dead letters, by the window their attributes name (else the window they arrived in).
    let reads = 0;
    let unknownTypeDeadLetters = 0;
    await mapLimit(deadKeys, CONCURRENCY, async ({ type, key }) => {
      let dead = this.#deadLetters.get(key);
      if (!dead) {
        if (reads++ >= MAX_DEAD_LETTER_READS) return;
        dead = await this.#deadLetters.getOrLoad(key, () => this.#readDeadLetter(key)).catch(() => undefined);
        if (!dead) return;
      }
      const window = dead.windowS === windowS && dead.window !== undefined ? dead.window : windowOf(dead.atMs * 1000, windowS);
      if (!inRange(window)) return;
      if (type === '_unknown') unknownTypeDeadLetters++;
      else cellOf(type, window).deadLetters++;
    });
    if (reads > MAX_DEAD_LETTER_READS) notes.push(`more than ${MAX_DEAD_LETTER_READS} new dead letters: counts are still catching up`);

    const checkers: CheckerSummary[] = statuses.map((s) => ({
      id: s.checker, updatedAt: s.updatedAt, ageMs: Math.max(0, nowMs - Date.parse(s.updatedAt)), windowS: s.windowS, errors: s.errors ?? [],
    }));
    if (checkers.length === 0) notes.push(`no checker status in ${this.#storage.location}/${layout.checker}status/ (is a checker running?)`);
    for (const c of checkers) if (c.ageMs > STALE_STATUS_MS) notes.push(`checker ${c.id} last reported ${Math.round(c.ageMs / 1000)} s ago`);
    for (const s of statuses) if (s.windowS !== windowS) notes.push(`checker ${s.checker} uses ${s.windowS} s windows, the newest status ${windowS} s`);

    const publishers = new Map<string, PublisherSummary>();
    for (const s of statuses) for (const p of s.publishers ?? []) if ((publishers.get(p.id)?.lastSeenMs ?? -1) < p.lastSeenMs) publishers.set(p.id, p);

    return {
      generatedAt: new Date(nowMs).toISOString(),
      location: this.#storage.location,
      windowS,
      windows: Array.from({ length: count }, (_, i) => ({
        window: first + i, windowStart: new Date(windowStartUs(first + i, windowS) / 1000).toISOString(), windowId: windowId(first + i, windowS),
      })),
      types,
      cells: [...cells.values()].sort((a, b) => a.type.localeCompare(b.type) || a.window - b.window),
      checkers,
      publishers: [...publishers.values()].sort((a, b) => b.lastSeenMs - a.lastSeenMs),
      unknownTypeDeadLetters,
      notes,
    };
  }

  /** One window in full: its manifest (if closed), late files and dead letters; undefined when the bucket has none of these. */
  async windowDetail(type: string, window: number, windowS = this.windowS): Promise<WindowDetail | undefined> {
    const ref: WindowRef = { type, index: window, lengthS: windowS };
    const dir = layout.closed(ref);
    let manifest: unknown;
    try {
      manifest = JSON.parse((await this.#storage.get(dir + layout.manifestName)).toString('utf8'));
    } catch (err) {
      if (!hasCode(err, 'HG_STORAGE_NOT_FOUND')) throw err;
    }
    const success = manifest !== undefined && (await this.#storage.stat(dir + layout.successName)) !== undefined;
    const lateDir = layout.late(ref);
    const lateKeys = (await this.#storage.list(lateDir)).map((o) => o.key).filter((k) => /^[^/]*\.manifest\.json$/.test(k.slice(lateDir.length)));
    const late = (await mapLimit(lateKeys, CONCURRENCY, (key) => this.#late.getOrLoad(key, () => this.#readLateSummary(key)))).filter((l) => l.window === window);
    const startMs = windowStartUs(window, windowS) / 1000;
    const endMs = windowEndUs(window, windowS) / 1000;
    const deadKeys = (await mapLimit(partitionPrefixes(startMs, Math.min(endMs + 3_600_000, this.#nowMs())), CONCURRENCY, (p) => this.#storage.list(`deadletter/${type}/${p}`)))
      .flat()
      .filter((o) => o.key.endsWith('.json'));
    const deadLetters = (await mapLimit(deadKeys.slice(0, MAX_DEAD_LETTER_READS), CONCURRENCY, (o) => this.#deadLetters.getOrLoad(o.key, () => this.#readDeadLetter(o.key))))
      .filter((d) => (d.windowS === windowS && d.window !== undefined ? d.window : windowOf(d.atMs * 1000, windowS)) === window)
      .map((d) => ({ key: d.key, reason: d.reason, detail: d.detail, messageId: d.messageId, at: new Date(d.atMs).toISOString() }));
    if (manifest === undefined && late.length === 0 && deadLetters.length === 0) return undefined;
    return {
      type, window, windowS, windowStart: new Date(startMs).toISOString(), path: dir, success,
      ...(manifest === undefined ? {} : { manifest }),
      late: late.map((l) => ({ key: l.key, events: l.events, movedAt: l.movedAt, publishers: l.publishers })),
      deadLetters,
    };
  }

  async #readStatusFiles(notes: string[]): Promise<CheckerStatusFile[]> {
    const keys = (await this.#storage.list(`${layout.checker}status/`)).map((o) => o.key).filter((k) => k.endsWith('.json'));
    const files = await mapLimit(keys, CONCURRENCY, async (key) => {
      try {
        const s = JSON.parse((await this.#storage.get(key)).toString('utf8')) as CheckerStatusFile;
        if (typeof s.checker !== 'string' || typeof s.updatedAt !== 'string' || !Number.isInteger(s.windowS) || !Array.isArray(s.windows)) throw new Error('not a checker status file');
        return s;
      } catch (err) {
        // A status file deleted between list and get is no news.
        if (!hasCode(err, 'HG_STORAGE_NOT_FOUND')) notes.push(`unreadable checker status ${key}: ${(err as Error).message}`);
        return undefined;
      }
    });
    return files.filter((s): s is CheckerStatusFile => s !== undefined);
  }

  #types(statuses: readonly CheckerStatusFile[], only: string | undefined): StatusType[] {
    const types = new Map<string, StatusType>();
    for (const t of this.#registry?.types() ?? []) types.set(t.name, { name: t.name, tier: t.config.tier, owner: t.config.owner, registered: true });
    for (const s of statuses) for (const w of s.windows) if (!types.has(w.type)) types.set(w.type, { name: w.type, registered: false });
    if (only !== undefined) return [types.get(only) ?? { name: only, registered: false }];
    return [...types.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async #readManifestSummary(key: string): Promise<ManifestSummary> {
    const m = JSON.parse((await this.#storage.get(key)).toString('utf8')) as ManifestSummary;
    return {
      type: m.type, window: m.window, windowS: m.windowS, status: m.status, events: m.events, closeDelayMs: m.closeDelayMs,
      lostEvents: m.lostEvents, abandonedEvents: m.abandonedEvents,
    };
  }

  async #readLateSummary(key: string): Promise<LateSummary> {
    const m = JSON.parse((await this.#storage.get(key)).toString('utf8')) as Omit<LateSummary, 'key'>;
    return { key, window: m.window, windowS: m.windowS, events: m.events, movedAt: m.movedAt, publishers: m.publishers };
  }

  async #readDeadLetter(key: string): Promise<DeadLetterSummary> {
    const d = JSON.parse((await this.#storage.get(key)).toString('utf8')) as { reason?: string; detail?: string; messageId?: string; atUs?: number; attributes?: Record<string, string> };
    const window = Number(d.attributes?.window);
    const windowS = Number(d.attributes?.window_s);
    const named = Number.isSafeInteger(window) && Number.isSafeInteger(windowS) && windowS > 0 && d.attributes?.window !== undefined;
    return {
      key,
      ...(named ? { window, windowS } : {}),
      atMs: typeof d.atUs === 'number' ? d.atUs / 1000 : (partitionStartMs(key) ?? 0),
      reason: d.reason ?? 'unknown',
      detail: d.detail,
      messageId: d.messageId,
    };
  }
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
