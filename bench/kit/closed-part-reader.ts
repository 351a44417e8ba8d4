// Reads the identity of every record in a closed window's part file (publisher, seq, receive time) into a SeqLedger: fast enough for hundreds of millions of events.
//
// Decoding whole records with avsc runs at about 1 M records/s here; a benchmark's windows hold
// hundreds of millions. Delivered records start with the identity fields (services/registry/
// delivered-schema.ts), so this reads those four fields by hand and skips the rest of each record with
// the compiled record skipper. A mistake here cannot hide a loss: a mis-read seq is missing or
// unexpected in the ledger, and a record that does not end where the skipper says fails the read.
import { ContainerReader } from '../../services/wire/container-reader.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { decompressBlock } from '../../services/wire/codecs.ts';
import { compileSkipper, type Skipper } from '../../services/wire/record-skipper.ts';
import { windowOf } from '../../services/wire/window.ts';
import type { SeqLedger, SeqRuns } from './seq-ledger.ts';

const IDENTITY = ['event_id', 'receive_time', 'publisher', 'seq'];

export interface PartRead {
  readonly records: number;
  /** Records whose receive time is not in the window the file belongs to. */
  readonly misplaced: number;
}

const skippers = new Map<string, Skipper>();

/** Adds every record of part file `key` (of `type`, window `index` of `lengthS` s) to `ledger`. */
export async function readPartIdentities(storage: Storage, key: string, type: string, window: { index: number; lengthS: number }, ledger: SeqLedger): Promise<PartRead> {
  const info = await storage.stat(key);
  if (!info) throw new Error(`part file ${key} is listed in its manifest but absent`);
  const reader = await ContainerReader.open(storage, key, info.size);
  const { schemaJson, codec } = reader.header;
  let skip = skippers.get(schemaJson);
  if (!skip) {
    const fields = (JSON.parse(schemaJson) as { fields?: Array<{ name: string }> }).fields ?? [];
    if (IDENTITY.some((name, i) => fields[i]?.name !== name)) throw new Error(`${key}: the schema does not start with the identity fields ${IDENTITY.join(', ')}`);
    skippers.set(schemaJson, (skip = compileSkipper(schemaJson, { validateUtf8: false })));
  }
  let records = 0;
  let misplaced = 0;
  // The stream of the previous record: records of one publisher come in long runs, so its id is
  // compared byte for byte and decoded only when it changes.
  let lastPublisher: Buffer = Buffer.alloc(0);
  let runs: SeqRuns | undefined;
  const readBlock = (data: Buffer, count: number) => {
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const start = pos;
      const idLength = varint(data, pos);
      const receiveUs = varint(data, next + idLength);
      const publisherLength = varint(data, next);
      const publisherAt = next;
      const seq = varint(data, publisherAt + publisherLength);
      const seqEnd = next;
      if (!runs || !sameBytes(lastPublisher, data, publisherAt, publisherLength)) {
        lastPublisher = Buffer.from(data.subarray(publisherAt, publisherAt + publisherLength));
        runs = ledger.stream(type, lastPublisher.toString('utf8'));
      }
      runs.add(seq);
      if (windowOf(receiveUs, window.lengthS) !== window.index) misplaced++;
      pos = skip(data, start);
      if (pos < seqEnd) throw new Error(`record ${i + 1} ends inside its identity fields`);
    }
    if (pos !== data.length) throw new Error(`${data.length - pos} bytes are left after the records`);
  };
  for await (const block of reader.blocks()) {
    try {
      readBlock(decompressBlock(codec, block.body), block.count);
    } catch (err) {
      throw new Error(`${key}: the block at byte ${block.offset} does not read as ${block.count} records: ${(err as Error).message}`, { cause: err });
    }
    records += block.count;
  }
  return { records, misplaced };
}

/** The position after the last varint() read: a module variable rather than a returned object, so reading a record allocates nothing. */
let next = 0;

/** An Avro long (zigzag varint) at `pos`; sets `next`. */
function varint(buf: Buffer, pos: number): number {
  let b = buf[pos++];
  if (b === undefined) throw new Error('a record is cut short');
  if (b < 0x80) {
    next = pos;
    return (b >>> 1) ^ -(b & 1);
  }
  const first = pos - 1;
  let magnitude = b & 0x7f;
  let scale = 0x80;
  while (b >= 0x80) {
    if (pos - first >= 10) throw new Error('a varint is longer than 10 bytes');
    b = buf[pos++];
    if (b === undefined) throw new Error('a record is cut short');
    magnitude += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  next = pos;
  // Zigzag decoding in arithmetic: bit operators would cut the value to 32 bits.
  return magnitude % 2 === 0 ? magnitude / 2 : -(magnitude + 1) / 2;
}

function sameBytes(known: Buffer, data: Buffer, at: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (known[i] !== data[at + i]) return false;
  return true;
}
