// Finds the dead letters a redrive selects, oldest first: the worker's JSON dead letters and the messages of Pub/Sub's undeliverable archives, each with its marker key.
//
// One listing of deadletter/<type>/ (or of deadletter/) tells dead letters, archives and markers
// apart. A dead letter whose marker exists is not read (at most its small marker, to apply a reason or
// time filter): the area keeps every dead letter for audit, so a run must not cost what all past
// redrives left behind. Likewise an archive file whose every message was redriven gets a completion
// marker and is not read again.
import { layout } from '../../storage/layout.ts';
import type { ObjectInfo, Storage } from '../../storage/storage.ts';
import type { DeadLetterRecord } from '../../worker/dead-letter.ts';
import { UNDELIVERABLE_REASON, type DeadLetterSource, type RedriveRequest } from './redrive-args.ts';
import { markerKeyOf, type RedriveMarker } from './redrive-marker.ts';
import { readUndeliverableArchive, UnreadableArchiveError } from './undeliverable-archive.ts';

/** One dead message, ready to validate and republish. */
export interface DeadLetter {
  readonly source: DeadLetterSource;
  /** The type folder it lies in: the type whose topic it came from. */
  readonly type: string;
  /** The object holding it. */
  readonly key: string;
  /** How output names it: the key, and for an archive message its id in the file. */
  readonly label: string;
  readonly messageId: string | undefined;
  readonly markerKey: string;
  /** The worker's reason code, or "undeliverable". */
  readonly reason: string;
  readonly detail: string;
  /** When it was dead-lettered (ms since the epoch), if known. */
  readonly deadLetteredAtMs: number | undefined;
  readonly attributes: Readonly<Record<string, string>>;
  readonly data: Buffer;
}

/** What the search turns up, in order. */
export type Found =
  | { readonly kind: 'letter'; readonly letter: DeadLetter }
  /** Marked dead letters, counted without reading them. */
  | { readonly kind: 'already'; readonly type: string; readonly source: DeadLetterSource; readonly count: number }
  | { readonly kind: 'unreadable'; readonly type: string; readonly source: DeadLetterSource; readonly key: string; readonly detail: string }
  /** The archive file has been read to its end; `whole` when the time range left none of its messages out. */
  | { readonly kind: 'archive-end'; readonly type: string; readonly key: string; readonly completeMarker: string; readonly whole: boolean };

/** Pub/Sub adds these to a message it forwards to a dead-letter topic (delivery count, source subscription…); they were never the publisher's. */
const PUBSUB_DEAD_LETTER_ATTRIBUTE = /^CloudPubSubDeadLetter/;
/** Worker dead letters read ahead of their use. */
const READ_AHEAD = 16;
const WORKER_KEY = /^dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/[^/]+\.json$/;
const HOUR_MS = 3_600_000;

export class DeadLetterArea {
  readonly #storage: Storage;
  readonly #request: RedriveRequest;
  readonly #markers: ReadonlySet<string>;
  /** Markers by the folder they lie in: an archive file's message markers share one. */
  readonly #markersByDir = new Map<string, string[]>();
  readonly #workerKeys: ReadonlyMap<string, readonly ObjectInfo[]>;
  readonly #archives: ReadonlyMap<string, readonly ObjectInfo[]>;

  private constructor(storage: Storage, request: RedriveRequest, objects: readonly ObjectInfo[]) {
    this.#storage = storage;
    this.#request = request;
    const markers = new Set<string>();
    const workerKeys = new Map<string, ObjectInfo[]>();
    const archives = new Map<string, ObjectInfo[]>();
    const add = <V>(map: Map<string, V[]>, key: string, value: V) => {
      const list = map.get(key);
      if (list) list.push(value);
      else map.set(key, [value]);
    };
    for (const o of objects) {
      const m = /^deadletter\/([^/]+)\/(.+)$/.exec(o.key);
      if (!m) continue;
      const [, type, rest] = m as unknown as [string, string, string];
      if (rest.startsWith('redriven/')) {
        markers.add(o.key);
        add(this.#markersByDir, o.key.slice(0, o.key.lastIndexOf('/') + 1), o.key);
      } else if (rest.startsWith('undeliverable/')) add(archives, type, o);
      else if (WORKER_KEY.test(rest)) add(workerKeys, type, o);
    }
    this.#markers = markers;
    this.#workerKeys = workerKeys;
    this.#archives = archives;
  }

  /** Lists the dead-letter area of the request's type (or all of it). */
  static async open(storage: Storage, request: RedriveRequest): Promise<DeadLetterArea> {
    return new DeadLetterArea(storage, request, await storage.list(request.type === undefined ? layout.deadletterRoot : layout.deadletterType(request.type)));
  }

  /** True when the marker was there when the area was listed. */
  marked(markerKey: string): boolean {
    return this.#markers.has(markerKey);
  }

  /** Every selected dead letter not yet redriven, by type, then source (worker first), then time; marked ones as counts. */
  async *find(): AsyncGenerator<Found> {
    const types = [...new Set([...this.#workerKeys.keys(), ...this.#archives.keys()])].sort();
    for (const type of types) {
      if (this.#request.sources.has('worker')) yield* this.#workerLetters(type);
      if (this.#request.sources.has('undeliverable')) yield* this.#undeliverable(type);
    }
  }

  async *#workerLetters(type: string): AsyncGenerator<Found> {
    const { sinceMs, untilMs, reasons } = this.#request;
    if (reasons !== undefined && ![...reasons].some((r) => r !== UNDELIVERABLE_REASON)) return;
    const keys: string[] = [];
    const marked: string[] = [];
    for (const o of this.#workerKeys.get(type) ?? []) {
      // The hour folder is the hour it was dead-lettered in: skip whole hours outside the range.
      const [, day, hour] = WORKER_KEY.exec(o.key.slice(layout.deadletterType(type).length))!;
      const hourMs = Date.parse(`${day}T${hour}:00:00Z`);
      if ((sinceMs !== undefined && hourMs + HOUR_MS <= sinceMs) || (untilMs !== undefined && hourMs >= untilMs)) continue;
      const markerKey = markerKeyOf(type, o.key);
      if (this.#markers.has(markerKey)) marked.push(markerKey);
      else keys.push(o.key);
    }
    const already = await this.#countMarked(marked);
    if (already > 0) yield { kind: 'already', type, source: 'worker', count: already };
    for await (const read of inOrder(keys, READ_AHEAD, (key) => this.#storage.get(key))) {
      if (!read.ok) {
        yield { kind: 'unreadable', type, source: 'worker', key: read.key, detail: `cannot read it: ${(read.error as Error).message}` };
        continue;
      }
      let letter: DeadLetter;
      let atMs: number;
      try {
        ({ letter, atMs } = parseWorkerDeadLetter(type, read.key, read.value));
      } catch (err) {
        yield { kind: 'unreadable', type, source: 'worker', key: read.key, detail: (err as Error).message };
        continue;
      }
      if (reasons !== undefined && !reasons.has(letter.reason)) continue;
      if ((sinceMs !== undefined && atMs < sinceMs) || (untilMs !== undefined && atMs >= untilMs)) continue;
      yield { kind: 'letter', letter };
    }
  }

  async *#undeliverable(type: string): AsyncGenerator<Found> {
    const { sinceMs, untilMs, reasons } = this.#request;
    if (reasons !== undefined && !reasons.has(UNDELIVERABLE_REASON)) return;
    for (const o of this.#archives.get(type) ?? []) {
      // Pub/Sub writes a file after the messages in it were published: one written before --since holds none after it.
      if (sinceMs !== undefined && o.updatedMs < sinceMs) continue;
      const markerDir = `${markerKeyOf(type, o.key)}/`;
      const completeMarker = `${markerDir}${COMPLETE_MARKER}`;
      if (this.#markers.has(completeMarker)) {
        const count = await this.#countMarked((this.#markersByDir.get(markerDir) ?? []).filter((k) => k !== completeMarker));
        if (count > 0) yield { kind: 'already', type, source: 'undeliverable', count };
        continue;
      }
      let already = 0;
      let outOfRange = 0;
      let unreadable: string | undefined;
      try {
        for await (const m of readUndeliverableArchive(this.#storage, o.key, o.size)) {
          const atMs = m.publishTimeMs ?? o.updatedMs;
          if ((sinceMs !== undefined && atMs < sinceMs) || (untilMs !== undefined && atMs >= untilMs)) {
            outOfRange++;
            continue;
          }
          const name = m.messageId ?? `message-${m.index}`;
          const markerKey = markerKeyOf(type, o.key, name);
          if (this.#markers.has(markerKey)) {
            already++;
            continue;
          }
          const attributes = Object.fromEntries(Object.entries(m.attributes).filter(([k]) => !PUBSUB_DEAD_LETTER_ATTRIBUTE.test(k)));
          const attempts = m.attributes.CloudPubSubDeadLetterSourceDeliveryCount;
          yield {
            kind: 'letter',
            letter: {
              source: 'undeliverable', type, key: o.key, label: `${o.key}#${name}`, messageId: m.messageId, markerKey,
              reason: UNDELIVERABLE_REASON, detail: `Pub/Sub gave up delivering it${attempts ? ` after ${attempts} attempts` : ''}`, deadLetteredAtMs: atMs, attributes, data: m.data,
            },
          };
        }
      } catch (err) {
        if (!(err instanceof UnreadableArchiveError)) throw err;
        unreadable = err.message;
      }
      if (already > 0) yield { kind: 'already', type, source: 'undeliverable', count: already };
      // A file read only in part is not complete: its unread messages are not marked.
      if (unreadable !== undefined) yield { kind: 'unreadable', type, source: 'undeliverable', key: o.key, detail: unreadable };
      else yield { kind: 'archive-end', type, key: o.key, completeMarker, whole: outOfRange === 0 };
    }
  }

  /**
   * How many of these markers the request selects. Without a reason or time filter every one counts,
   * from the listing alone; with one, each marker is read for the reason and time it records (markers
   * are small; the dead letters they mark need not be read).
   */
  async #countMarked(markerKeys: readonly string[]): Promise<number> {
    const { reasons, sinceMs, untilMs } = this.#request;
    if (reasons === undefined && sinceMs === undefined && untilMs === undefined) return markerKeys.length;
    let count = 0;
    for await (const read of inOrder(markerKeys, READ_AHEAD, (key) => this.#storage.get(key))) {
      let marker: Partial<RedriveMarker>;
      try {
        marker = read.ok ? (JSON.parse(read.value.toString('utf8')) as Partial<RedriveMarker>) : {};
      } catch {
        marker = {};
      }
      // A marker that cannot say (unreadable, or gone since the listing) still says the dead letter was redriven.
      const atMs = typeof marker.deadLetteredAt === 'string' ? Date.parse(marker.deadLetteredAt) : NaN;
      const reasonOk = reasons === undefined || typeof marker.reason !== 'string' || reasons.has(marker.reason);
      const timeOk = Number.isNaN(atMs) || ((sinceMs === undefined || atMs >= sinceMs) && (untilMs === undefined || atMs < untilMs));
      if (reasonOk && timeOk) count++;
    }
    return count;
  }
}

/** The name of the marker that says every message of an archive file was redriven (message markers are <id>.json). */
export const COMPLETE_MARKER = '_COMPLETE';

/** A worker dead letter (services/worker/dead-letter.ts) from its JSON; throws on anything malformed. */
export function parseWorkerDeadLetter(type: string, key: string, bytes: Buffer): { letter: DeadLetter; atMs: number } {
  let r: Partial<DeadLetterRecord>;
  try {
    r = JSON.parse(bytes.toString('utf8')) as Partial<DeadLetterRecord>;
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`, { cause: err });
  }
  const attributes = r?.attributes as unknown;
  if (typeof r?.reason !== 'string' || typeof r.dataBase64 !== 'string' || typeof r.atUs !== 'number' || typeof attributes !== 'object' || attributes === null) {
    throw new Error('not a worker dead letter (reason, dataBase64, attributes or atUs missing)');
  }
  if (Object.values(attributes).some((v) => typeof v !== 'string')) throw new Error('its attributes are not all strings');
  return {
    letter: {
      source: 'worker', type, key, label: key, messageId: typeof r.messageId === 'string' ? r.messageId : undefined, markerKey: markerKeyOf(type, key),
      reason: r.reason, detail: typeof r.detail === 'string' ? r.detail : '', deadLetteredAtMs: Math.floor(r.atUs / 1000),
      attributes: attributes as Record<string, string>, data: Buffer.from(r.dataBase64, 'base64'),
    },
    atMs: Math.floor(r.atUs / 1000),
  };
}

type Read<V> = { ok: true; key: string; value: V } | { ok: false; key: string; error: unknown };

/** Reads `keys` in order with at most `ahead` reads started before their turn, so memory holds `ahead` objects, never the whole list. */
async function* inOrder<V>(keys: readonly string[], ahead: number, read: (key: string) => Promise<V>): AsyncGenerator<Read<V>> {
  const start = (key: string): Promise<Read<V>> => read(key).then((value) => ({ ok: true as const, key, value }), (error: unknown) => ({ ok: false as const, key, error }));
  const pending: Array<Promise<Read<V>>> = [];
  let next = 0;
  while (next < keys.length && pending.length < ahead) pending.push(start(keys[next++]!));
  while (pending.length > 0) {
    const result = await pending.shift()!;
    if (next < keys.length) pending.push(start(keys[next++]!));
    yield result;
  }
}
