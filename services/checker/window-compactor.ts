// Turns a window's staged messages into deduplicated part files in one schema: the data half of closing.
//
// Fast path: a message that is new, has no client event ids, and is already in the target schema and
// codec is copied as one block, byte for byte. Otherwise (older schema, client ids to check, partly
// seen seqs, another codec) its records are decoded, filtered and re-encoded.
import { createHash, randomBytes } from 'node:crypto';
import type avro from 'avsc';
import { readAhead } from '../concurrency/read-ahead.ts';
import { generatedEventId } from '../registry/delivered-schema.ts';
import type { Registry } from '../registry/registry.ts';
import type { StagedMessage } from '../storage/staging-manifest.ts';
import type { Storage } from '../storage/storage.ts';
import { ContainerWriter, readLong } from '../wire/avro-container.ts';
import { compressBlock, decompressBlock, type CodecName } from '../wire/codecs.ts';
import { clientIdKey } from './client-id-chunks.ts';
import { ClientIdTimes } from './client-id-times.ts';
import type { IndexedManifest } from './staging-index.ts';
import { runsOf, WindowedRuns } from './windowed-runs.ts';

/** Staged files read ahead of their use. */
const READ_AHEAD = 8;

export interface CompactOptions {
  readonly type: string;
  readonly window: number;
  /** Seqs already delivered elsewhere (for late events: the closed window and earlier late files). */
  readonly alreadyDelivered?: ReadonlyMap<string, WindowedRuns>;
  /** Client event ids (digests) already written in this window (by earlier segments), with their receive times (µs). Not changed. */
  readonly deliveredEventIds?: ClientIdTimes;
  /** Two records with the same client event id are duplicates when received at most this far apart (µs). Default: the whole window. */
  readonly clientIdHorizonUs?: number;
  /**
   * Which records are client retries, decided beforehand (the late area commits its decision before it
   * writes, so a redone move writes the same records): replaces comparing ids.
   */
  readonly clientRetriesDecided?: (publisher: string, seq: number) => boolean;
  /** Folder (ending in /) and file name prefix of the output parts. */
  readonly outPrefix: string;
  readonly namePrefix: string;
  readonly maxPartBytes: number;
  readonly codec: CodecName;
  /** Names the output (instead of a random id), so that a repeated run collides with, rather than duplicates, the first. */
  readonly attempt?: string;
  /** Schema version to write. Default: the newest among the inputs. */
  readonly schemaVersion?: number;
}

export interface PartFile {
  readonly name: string;
  readonly key: string;
  readonly bytes: number;
  readonly events: number;
  readonly sha256: string;
}

export interface CompactResult {
  readonly attempt: string;
  readonly schemaVersion: number;
  readonly schemaJson: string;
  readonly files: PartFile[];
  readonly events: number;
  readonly redeliveredDropped: number;
  readonly clientRetryDropped: number;
  /** Seqs written, per publisher. */
  readonly written: Map<string, WindowedRuns>;
  /** Client ids (digests) of the records written now, with their receive times: every kept copy. */
  readonly keptClientIds: Array<[key: string, receivedUs: number]>;
}

export async function compactWindow(storage: Storage, registry: Registry, manifests: readonly IndexedManifest[], o: CompactOptions): Promise<CompactResult> {
  const attempt = o.attempt ?? randomBytes(6).toString('hex');
  const targetVersion = o.schemaVersion ?? Math.max(...manifests.map((m) => m.manifest.version));
  const target = registry.version(o.type, targetVersion);
  const written = new Map<string, WindowedRuns>();
  const seen = (publisher: string): WindowedRuns => runsOf(written, publisher);
  const delivered = o.deliveredEventIds;
  const keptIds = new ClientIdTimes();
  const keptClientIds: Array<[string, number]> = [];
  const horizonUs = o.clientIdHorizonUs ?? Infinity;
  const parts: PartFile[] = [];
  let writer = newWriter();
  let partEvents = 0;
  let events = 0;
  let redeliveredDropped = 0;
  let clientRetryDropped = 0;

  function newWriter(): ContainerWriter {
    return new ContainerWriter({ schemaJson: target.deliveredSchemaJson, codec: o.codec, meta: { 'hourglass.type': o.type, 'hourglass.window': String(o.window) } });
  }
  async function finishPart(): Promise<void> {
    if (partEvents === 0) return;
    const name = `${o.namePrefix}-${attempt}-${String(parts.length).padStart(5, '0')}.avro`;
    const bytes = writer.toBuffer();
    await storage.createOnly(o.outPrefix + name, bytes);
    parts.push({ name, key: o.outPrefix + name, bytes: bytes.length, events: partEvents, sha256: createHash('sha256').update(bytes).digest('hex') });
    writer = newWriter();
    partEvents = 0;
  }
  async function append(count: number, body: Buffer): Promise<void> {
    writer.appendBlock(count, body);
    partEvents += count;
    events += count;
    if (writer.byteLength >= o.maxPartBytes) await finishPart();
  }

  // First received wins among duplicates: process messages in receive order, not file order.
  const work = manifests
    .flatMap(({ manifest }) => manifest.messages.map((msg) => ({ manifest, msg })))
    .sort((a, b) => a.msg.minReceiveUs - b.msg.minReceiveUs || cmp(a.msg.publisher, b.msg.publisher) || a.msg.firstSeq - b.msg.firstSeq || cmp(a.manifest.file, b.manifest.file));
  // Every staged file is read once, a few ahead of their use, so the reads overlap the work.
  const files = readAhead(
    work.map((w) => w.manifest.file),
    READ_AHEAD,
    (key) => storage.get(key),
  );
  for (const { manifest, msg } of work) {
    const file = await files.get(manifest.file)!;
    const reader = manifest.version === targetVersion ? undefined : registry.resolver(o.type, manifest.version, targetVersion);
    const sourceType = registry.version(o.type, manifest.version).deliveredType;
    const already = o.alreadyDelivered?.get(msg.publisher);
    const mine = seen(msg.publisher);
    const end = msg.firstSeq + msg.count;
    if (mine.covers(msg.firstSeq, end) || already?.covers(msg.firstSeq, end)) {
      redeliveredDropped += msg.count;
      continue;
    }
    const fresh = (runs: WindowedRuns | undefined) => !runs || sameRange(runs.uncovered(msg.firstSeq, end), msg.firstSeq, end);
    const partlySeen = !fresh(mine) || !fresh(already);
    const body = blockBody(file, msg);
    if (!partlySeen && !msg.clientIds && !reader && manifest.codec === o.codec) {
      await append(msg.count, body);
      mine.add(msg.firstSeq, end, o.window, o.window);
      continue;
    }
    // Slow path: look at every record.
    const datums = decompressBlock(manifest.codec, body);
    const kept: Buffer[] = [];
    let pos = 0;
    for (let i = 0; i < msg.count; i++) {
      const seq = msg.firstSeq + i;
      const decoded = reader ? target.deliveredType.decode(datums, pos, reader) : sourceType.decode(datums, pos);
      if (decoded.offset < 0) throw new Error(`${manifest.file}: record ${i} of the block at ${msg.offset} is truncated`);
      pos = decoded.offset;
      const record = decoded.value as { event_id: string; receive_time: number | bigint };
      if (mine.covers(seq, seq + 1) || already?.covers(seq, seq + 1)) {
        redeliveredDropped++;
        continue;
      }
      mine.add(seq, seq + 1, o.window, o.window);
      // A generated id (<publisher>-<seq>) is never compared with a client's: it is unique by construction.
      if (msg.clientIds && record.event_id !== generatedEventId(msg.publisher, seq)) {
        const receivedUs = Number(record.receive_time);
        const key = clientIdKey(record.event_id);
        const retry = o.clientRetriesDecided
          ? o.clientRetriesDecided(msg.publisher, seq)
          : keptIds.within(key, receivedUs, horizonUs) || (delivered?.within(key, receivedUs, horizonUs) ?? false);
        if (retry) {
          clientRetryDropped++;
          continue;
        }
        keptIds.add(key, receivedUs);
        keptClientIds.push([key, receivedUs]);
      }
      kept.push(encodeRecord(target.deliveredType, record));
    }
    if (kept.length > 0) await append(kept.length, compressBlock(o.codec, Buffer.concat(kept)));
  }
  await finishPart();
  return { attempt, schemaVersion: targetVersion, schemaJson: target.deliveredSchemaJson, files: parts, events, redeliveredDropped, clientRetryDropped, written, keptClientIds };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameRange(parts: Array<[number, number]>, from: number, to: number): boolean {
  return parts.length === 1 && parts[0]![0] === from && parts[0]![1] === to;
}

/** The compressed body of a staged block, found by its manifest entry. */
function blockBody(file: Buffer, msg: StagedMessage): Buffer {
  const count = readLong(file, msg.offset);
  const size = readLong(file, count.next);
  if (count.value !== msg.count) throw new Error(`staged block at ${msg.offset} holds ${count.value} records, manifest says ${msg.count}`);
  return file.subarray(size.next, size.next + size.value);
}

function encodeRecord(type: avro.Type, record: unknown): Buffer {
  return type.toBuffer(record);
}
