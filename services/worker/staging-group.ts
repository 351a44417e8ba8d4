// One open staging file being filled: the accepted messages of one (type, window, schema version, codec), each one block.
//
// A message's body is appended by reference (never decompressed, copied or re-encoded) until the
// file is sealed; the block's byte range goes into the manifest so the checker can read single
// blocks. Sealing makes the bytes, their SHA-256 and the manifest's content; no I/O here.
import { createHash } from 'node:crypto';
import type { StagedMessage } from '../storage/staging-manifest.ts';
import { stagedTraceparent } from '../telemetry/tracing.ts';
import { ContainerWriter } from '../wire/avro-container.ts';
import type { CodecName } from '../wire/codecs.ts';
import type { InboundMessage } from './message-source.ts';
import type { AcceptedMessage } from './message-validator.ts';

export interface GroupKey {
  readonly type: string;
  readonly window: number;
  readonly version: number;
  readonly codec: CodecName;
}

/** The map key of a group. */
export function groupKeyOf(k: GroupKey): string {
  return `${k.type}/${k.window}/${k.version}/${k.codec}`;
}

/** A staging file ready to be written: its bytes, what the manifest will say, and the messages to ack once it is durable. */
export interface SealedStagingFile extends GroupKey {
  readonly windowS: number;
  readonly bytes: Buffer;
  /** SHA-256 of `bytes`, hex. */
  readonly sha256: string;
  readonly events: number;
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  readonly messages: readonly StagedMessage[];
  /** The deliveries held by this file, in block order. */
  readonly inbound: readonly InboundMessage[];
}

export class StagingGroup implements GroupKey {
  readonly type: string;
  readonly window: number;
  readonly version: number;
  readonly codec: CodecName;
  readonly windowS: number;
  /** When the first message was added (UTC µs, the worker's clock). */
  readonly openedAtUs: number;
  readonly #writer: ContainerWriter;
  readonly #messages: StagedMessage[] = [];
  readonly #inbound: InboundMessage[] = [];
  #events = 0;
  #minReceiveUs = Number.POSITIVE_INFINITY;
  #maxReceiveUs = 0;

  constructor(key: GroupKey, schemaJson: string, windowS: number, openedAtUs: number) {
    this.type = key.type;
    this.window = key.window;
    this.version = key.version;
    this.codec = key.codec;
    this.windowS = windowS;
    this.openedAtUs = openedAtUs;
    this.#writer = new ContainerWriter({ schemaJson, codec: key.codec });
  }

  /** Appends an accepted message as one block. It must belong to this group. */
  add(m: InboundMessage, accepted: AcceptedMessage): void {
    this.addRuns(m, [accepted]);
  }

  /**
   * Appends the kept runs of one delivery, a block each (a salvaged message: its good records around the
   * dead-lettered ones); the delivery is settled once, with the file.
   */
  addRuns(m: InboundMessage, runs: readonly AcceptedMessage[]): void {
    for (const accepted of runs) {
      const a = accepted.attributes;
      if (a.type !== this.type || a.window !== this.window || a.version !== this.version || accepted.codec !== this.codec) {
        throw new Error(`message ${m.id} (${groupKeyOf({ ...a, codec: accepted.codec })}) does not belong to group ${groupKeyOf(this)}`);
      }
    }
    for (const accepted of runs) {
      const a = accepted.attributes;
      const offset = this.#writer.byteLength;
      this.#writer.appendBlock(a.count, accepted.body);
      this.#messages.push({
        publisher: a.publisher,
        firstSeq: a.firstSeq,
        count: a.count,
        offset,
        length: this.#writer.byteLength - offset,
        clientIds: a.clientIds,
        minReceiveUs: a.minReceiveUs,
        maxReceiveUs: a.maxReceiveUs,
        messageId: m.id,
        // The publish span's trace context, when the message has one: the checker's close span joins that trace (tracing.ts).
        ...stagedTraceparent(m.attributes),
      });
      this.#events += a.count;
      if (a.minReceiveUs < this.#minReceiveUs) this.#minReceiveUs = a.minReceiveUs;
      if (a.maxReceiveUs > this.#maxReceiveUs) this.#maxReceiveUs = a.maxReceiveUs;
    }
    this.#inbound.push(m);
  }

  /** Bytes of the file so far, header included. */
  get byteLength(): number {
    return this.#writer.byteLength;
  }

  get messageCount(): number {
    return this.#messages.length;
  }

  get events(): number {
    return this.#events;
  }

  /** The finished file. Call once; the group is done afterwards. */
  seal(): SealedStagingFile {
    if (this.#messages.length === 0) throw new Error(`group ${groupKeyOf(this)} is empty`);
    const bytes = this.#writer.toBuffer();
    return {
      type: this.type,
      window: this.window,
      version: this.version,
      codec: this.codec,
      windowS: this.windowS,
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      events: this.#events,
      minReceiveUs: this.#minReceiveUs,
      maxReceiveUs: this.#maxReceiveUs,
      messages: this.#messages,
      inbound: this.#inbound,
    };
  }
}
