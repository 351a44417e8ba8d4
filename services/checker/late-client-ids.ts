// Decides which records of a late message are client retries, against the closed window and earlier late files, once and for all.
//
// A late message whose records carry client ids (attribute `clientIds`; no other message costs
// anything here) gets a decision: the seqs it drops as copies of an id the closed window kept, or an
// earlier late file kept, within the horizon. Decisions form a numbered chain per window
// (checker/client-ids/<type>/<window>/late-NNNNNN.json), each created create-only on top of every
// earlier one, so two checkers moving two copies of one id cannot both keep it: the one that loses
// the number reads the winner's decision and decides again. A decision is committed before its late
// part is written and never changes, so a move redone after a crash (or by another checker) writes
// exactly the records the decision kept. Memory: the ids of the messages being decided, and of the
// closed window and earlier decisions only those same ids (chunks are scanned, not loaded).
import { hasCode } from '../errors/catalogue.ts';
import { generatedEventId } from '../registry/delivered-schema.ts';
import type { Registry } from '../registry/registry.ts';
import type { WindowRef } from '../storage/layout.ts';
import type { StagedMessage, StagingManifest } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import { readLong } from '../wire/avro-container.ts';
import { decompressBlock } from '../wire/codecs.ts';
import { clientIdKey, clientIdsPrefix, encodeClientIds, forEachClientId } from './client-id-chunks.ts';
import { ClientIdTimes } from './client-id-times.ts';
import { closedTimesOf, readClosedClientIds, type ClosedClientIds } from './closed-client-ids.ts';

export const LATE_IDS_FORMAT = 'hg-late-ids-1';

/** A checker that loses this many numbers in a row gives up for this round (others are making progress). */
const MAX_LOST_RACES = 50;

export interface LateIdDecision {
  readonly format: typeof LATE_IDS_FORMAT;
  readonly n: number;
  /** The late file it is for: "<publisher>-<first seq>-<count>". */
  readonly message: string;
  /** Seqs dropped as client retries. */
  readonly droppedSeqs: number[];
  /** The ids the late file keeps (a client-id chunk, base64), for the decisions after it. */
  readonly keptIds: string;
  readonly decidedAt: string;
  readonly checker: string;
}

/** A record of a late message that carries a client id. */
interface IdRecord {
  readonly seq: number;
  readonly key: string;
  readonly receivedUs: number;
}

const decisionPrefix = (ref: WindowRef) => `${clientIdsPrefix(ref)}late-`;
const decisionKey = (ref: WindowRef, n: number) => `${decisionPrefix(ref)}${String(n).padStart(6, '0')}.json`;

export interface LateClientIdOptions {
  readonly horizonUs: number;
  readonly checker: string;
  readonly nowMs: number;
  /** The closed window's attempt (its manifest's `attempt`): names the index of its client ids. */
  readonly closedAttempt: string;
}

/** Decisions for one batch of late messages of one window: `prepare` them together, then `decide` each in turn. */
export class LateClientIds {
  readonly #storage: Storage;
  readonly #registry: Registry;
  readonly #ref: WindowRef;
  readonly #o: LateClientIdOptions;
  #closedIndex: Promise<ClosedClientIds | undefined> | undefined;
  /** Client-id records of each prepared message, by message name. */
  #records = new Map<string, IdRecord[]>();
  /** Keys of every prepared record: the only ids looked for in the closed window and in decisions. */
  #wanted = new Set<string>();
  /** What the closed window kept of the wanted ids. */
  #closed = new ClientIdTimes();
  /** Decisions read or made, by key; and what they kept of the wanted ids. */
  readonly #decisions = new Map<string, LateIdDecision>();
  #decided = new ClientIdTimes();

  constructor(storage: Storage, registry: Registry, ref: WindowRef, o: LateClientIdOptions) {
    this.#storage = storage;
    this.#registry = registry;
    this.#ref = ref;
    this.#o = o;
  }

  /** Reads the client-id records of `messages` and what the closed window kept of their ids (one scan for all). */
  async prepare(messages: ReadonlyArray<{ manifest: StagingManifest; msg: StagedMessage }>): Promise<void> {
    this.#records = new Map();
    this.#wanted = new Set();
    let fromUs = Infinity;
    let toUs = -Infinity;
    for (const { manifest, msg } of messages) {
      if (!msg.clientIds) continue;
      const records = await this.#readRecords(manifest, msg);
      this.#records.set(messageName(msg), records);
      for (const r of records) {
        this.#wanted.add(r.key);
        fromUs = Math.min(fromUs, r.receivedUs - this.#o.horizonUs);
        toUs = Math.max(toUs, r.receivedUs + this.#o.horizonUs);
      }
    }
    this.#closedIndex ??= readClosedClientIds(this.#storage, this.#ref, this.#o.closedAttempt);
    this.#closed = await closedTimesOf(this.#storage, await this.#closedIndex, this.#wanted, fromUs, toUs);
    // Decisions already read are filtered again for the new wanted ids.
    this.#decided = new ClientIdTimes();
    for (const d of this.#decisions.values()) this.#noteKept(d);
  }

  /** The seqs of `msg` (prepared) that are client retries: the committed decision, or a new one committed now. */
  async decide(msg: StagedMessage): Promise<ReadonlySet<number>> {
    const message = messageName(msg);
    const records = this.#records.get(message);
    if (!records) throw new Error(`late message ${message} was not prepared`);
    for (let race = 0; race < MAX_LOST_RACES; race++) {
      const next = await this.#readDecisions();
      const known = [...this.#decisions.values()].find((d) => d.message === message);
      if (known) return new Set(known.droppedSeqs);
      const dropped: number[] = [];
      const kept: Array<[string, number]> = [];
      const mine = new ClientIdTimes();
      for (const r of records) {
        const h = this.#o.horizonUs;
        if (this.#closed.within(r.key, r.receivedUs, h) || this.#decided.within(r.key, r.receivedUs, h) || mine.within(r.key, r.receivedUs, h)) {
          dropped.push(r.seq);
        } else {
          mine.add(r.key, r.receivedUs);
          kept.push([r.key, r.receivedUs]);
        }
      }
      const decision: LateIdDecision = {
        format: LATE_IDS_FORMAT,
        n: next,
        message,
        droppedSeqs: dropped,
        keptIds: encodeClientIds(kept).toString('base64'),
        decidedAt: new Date(this.#o.nowMs).toISOString(),
        checker: this.#o.checker,
      };
      const key = decisionKey(this.#ref, next);
      try {
        await this.#storage.createOnly(key, JSON.stringify(decision));
      } catch (err) {
        if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
        continue; // another checker took the number (perhaps deciding this very message): read it and decide again
      }
      this.#decisions.set(key, decision);
      this.#noteKept(decision);
      return new Set(dropped);
    }
    throw new Error(`late message ${message}: lost the race for a decision number ${MAX_LOST_RACES} times in a row`);
  }

  /** Reads decisions not read yet; returns the next free number. */
  async #readDecisions(): Promise<number> {
    let next = 0;
    const prefix = decisionPrefix(this.#ref);
    for (const { key } of await this.#storage.list(prefix)) {
      const n = /^(\d{6})\.json$/.exec(key.slice(prefix.length));
      if (!n) continue;
      next = Math.max(next, Number(n[1]) + 1);
      if (this.#decisions.has(key)) continue;
      const d = JSON.parse((await this.#storage.get(key)).toString('utf8')) as LateIdDecision;
      if (d.format !== LATE_IDS_FORMAT || typeof d.message !== 'string' || !Array.isArray(d.droppedSeqs)) throw new Error(`${key}: not a ${LATE_IDS_FORMAT} decision`);
      this.#decisions.set(key, d);
      this.#noteKept(d);
    }
    return next;
  }

  #noteKept(d: LateIdDecision): void {
    forEachClientId(Buffer.from(d.keptIds, 'base64'), (key, receivedUs) => {
      if (this.#wanted.has(key)) this.#decided.add(key, receivedUs);
    }, `decision ${d.n}`);
  }

  async #readRecords(manifest: StagingManifest, msg: StagedMessage): Promise<IdRecord[]> {
    const block = await this.#storage.getRange(manifest.file, msg.offset, msg.offset + msg.length);
    const count = readLong(block, 0);
    const size = readLong(block, count.next);
    if (count.value !== msg.count) throw new Error(`${manifest.file}: the block at ${msg.offset} holds ${count.value} records, its manifest says ${msg.count}`);
    const datums = decompressBlock(manifest.codec, block.subarray(size.next, size.next + size.value));
    const type = this.#registry.version(this.#ref.type, manifest.version).deliveredType;
    const records: IdRecord[] = [];
    let pos = 0;
    for (let i = 0; i < msg.count; i++) {
      const decoded = type.decode(datums, pos);
      if (decoded.offset < 0) throw new Error(`${manifest.file}: record ${i} of the block at ${msg.offset} is truncated`);
      pos = decoded.offset;
      const seq = msg.firstSeq + i;
      const { event_id: eventId, receive_time: receiveTime } = decoded.value as { event_id: string; receive_time: number | bigint };
      if (eventId !== generatedEventId(msg.publisher, seq)) records.push({ seq, key: clientIdKey(eventId), receivedUs: Number(receiveTime) });
    }
    return records;
  }
}

/** The name a late message's files and decision go by: "<publisher>-<first seq>-<count>". */
export function messageName(msg: Pick<StagedMessage, 'publisher' | 'firstSeq' | 'count'>): string {
  return `${msg.publisher}-${msg.firstSeq}-${msg.count}`;
}
