// Decides, per message, whether it may be staged: attributes, type, version and window length, then a proof that its block holds exactly `count` records.
//
// The proof decompresses the body (with a cap) and skips through the records with a skipper compiled
// once per (type, version); nothing is decoded into values. A message that fails any check gets a
// stable reason code, counted and written to the dead-letter area with the detail. Pure: no I/O.
import type { Registry, SchemaVersion } from '../registry/registry.ts';
import { isValidTypeName } from '../registry/type-name.ts';
import { parseBatchAttributes, type BatchAttributes } from '../wire/batch-attributes.ts';
import { compressBlock, CorruptBlockError, decompressBlock, type CodecName } from '../wire/codecs.ts';
import { compileSkipper, proveRecordCount, type Skipper } from '../wire/record-skipper.ts';
import { salvageRecords } from './record-salvage.ts';

/** Why a message was dead-lettered: stable codes, one counter each. */
export const DEAD_LETTER_REASONS = [
  /** Attributes missing or malformed (format, codec, publisher, seqs, counts, receive times…). */
  'bad_attributes',
  /** The type attribute names no type in the registry. */
  'unknown_type',
  /** A known type, but not the type of the subscription that delivered it. */
  'wrong_topic',
  /** The type has no such schema version. */
  'unknown_version',
  /** window_s differs from the window length this worker (and the checker) use. */
  'wrong_window_length',
  /** The body does not decompress with its codec, or decompresses to more than the cap. */
  'corrupt_block',
  /** The decompressed body is not exactly `count` records of the schema. */
  'bad_records',
] as const;

export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface AcceptedMessage {
  readonly ok: true;
  readonly attributes: BatchAttributes;
  readonly schema: SchemaVersion;
  /** The block body to write, compressed with `codec`: the message data itself unless recompressed. */
  readonly body: Buffer;
  readonly codec: CodecName;
}

export interface RejectedMessage {
  readonly ok: false;
  readonly reason: DeadLetterReason;
  /** What exactly is wrong, for a person reading the dead letter. */
  readonly detail: string;
  /** Folder under deadletter/: the type attribute when it is a valid type name, else "_unknown". */
  readonly typeDir: string;
  /**
   * Set when the message's seqs are known (its attributes parse, it came on its own type's
   * subscription, its window length is this pipeline's): the worker then notes the dead-lettered seqs
   * in the window's staging, so the proof accounts for them, and stages the records it kept.
   */
  readonly split?: MessageSplit;
}

/** What of a refused message goes to the dead letter and what is kept, by seq. */
export interface MessageSplit {
  readonly attributes: BatchAttributes;
  /** Seq ranges [from, to) dead-lettered. */
  readonly deadLettered: Array<[number, number]>;
  /** Runs of good records, each staged as a message of its own (same attributes, its own seqs). */
  readonly kept: AcceptedMessage[];
}

export type Verdict = AcceptedMessage | RejectedMessage;

export interface ValidatorOptions {
  /** The window length (s) every accepted message must carry. */
  readonly windowLengthS: number;
  /** Largest decompressed body accepted (bytes). */
  readonly maxBlockBytes: number;
  /** Recompress bodies of other codecs into this one; undefined keeps each message's codec. */
  readonly codec: CodecName | undefined;
}

export const UNKNOWN_TYPE_DIR = '_unknown';

export class MessageValidator {
  readonly #registry: Registry;
  readonly #options: ValidatorOptions;
  readonly #skippers = new Map<string, Skipper>();

  constructor(registry: Registry, options: ValidatorOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  /** Checks one message delivered by the subscription of `subscriptionType`. */
  validate(subscriptionType: string, data: Buffer, rawAttributes: Readonly<Record<string, string>>): Verdict {
    const typeDir = isValidTypeName(rawAttributes.type ?? '') ? rawAttributes.type! : UNKNOWN_TYPE_DIR;
    const reject = (reason: DeadLetterReason, detail: string): RejectedMessage => ({ ok: false, reason, detail, typeDir });

    const parsed = parseBatchAttributes(rawAttributes);
    if (!parsed.ok) return reject('bad_attributes', parsed.reason);
    const a = parsed.value;
    if (a.type !== subscriptionType) {
      return this.#registry.get(a.type) === undefined
        ? reject('unknown_type', `type "${a.type}" is not in the registry (known: ${this.#registry.names().join(', ')})`)
        : reject('wrong_topic', `a "${a.type}" message arrived on the subscription of "${subscriptionType}"`);
    }
    if (a.windowS !== this.#options.windowLengthS) {
      return reject('wrong_window_length', `window_s is ${a.windowS}, this pipeline uses ${this.#options.windowLengthS}`);
    }
    // From here the seqs are known: whatever is refused is noted as dead-lettered, so the proof accounts for it.
    const whole: Array<[number, number]> = [[a.firstSeq, a.firstSeq + a.count]];
    const refuse = (reason: DeadLetterReason, detail: string, kept: AcceptedMessage[] = [], deadLettered = whole): RejectedMessage => ({
      ...reject(reason, detail),
      split: { attributes: a, deadLettered, kept },
    });
    const type = this.#registry.get(a.type);
    if (type === undefined) return reject('unknown_type', `type "${a.type}" is not in the registry`);
    const schema = type.versions[a.version - 1];
    if (schema === undefined || schema.version !== a.version) {
      return refuse('unknown_version', `type "${a.type}" has no schema version ${a.version} (versions 1..${type.latest.version})`);
    }

    let datums: Buffer;
    try {
      datums = decompressBlock(a.codec, data, { maxOutputLength: this.#options.maxBlockBytes });
    } catch (err) {
      if (err instanceof CorruptBlockError) return refuse('corrupt_block', err.message);
      throw err;
    }
    const codec = this.#options.codec ?? a.codec;
    const strict = this.#skipper(a.type, schema, true);
    const proof = proveRecordCount(strict, datums, a.count);
    if (!proof.ok) {
      const detail = `not ${a.count} records of ${a.type} v${a.version}: ${proof.reason}`;
      const salvage = salvageRecords(strict, this.#skipper(a.type, schema, false), datums, a.firstSeq, a.count);
      if (salvage === undefined || salvage.refused.length === 0) return refuse('bad_records', detail);
      const kept = salvage.kept.map((run): AcceptedMessage => ({
        ok: true,
        attributes: { ...a, firstSeq: run.firstSeq, count: run.count },
        schema,
        body: compressBlock(codec, run.datums),
        codec,
      }));
      const refused = salvage.refused.map((r) => `record ${r.seq - a.firstSeq + 1} of ${a.count} (seq ${r.seq}): ${r.reason} of the record`).join('; ');
      const deadLettered: Array<[number, number]> = [];
      for (const { seq } of salvage.refused) {
        const last = deadLettered[deadLettered.length - 1];
        if (last && last[1] === seq) last[1] = seq + 1;
        else deadLettered.push([seq, seq + 1]);
      }
      return refuse('bad_records', `${salvage.refused.length} of ${a.count} records of ${a.type} v${a.version} refused (the others were kept): ${refused}`, kept, deadLettered);
    }

    const body = codec === a.codec ? data : compressBlock(codec, datums);
    return { ok: true, attributes: a, schema, body, codec };
  }

  /** The record proof of a type version: with the value rules (what is delivered), or structure only (to find records' ends). */
  #skipper(type: string, schema: SchemaVersion, values: boolean): Skipper {
    const key = `${type}:${schema.version}:${values}`;
    let skipper = this.#skippers.get(key);
    if (skipper === undefined) {
      // Strict UTF-8, as strict readers (fastavro, BigQuery) will read these files.
      skipper = compileSkipper(schema.deliveredSchema, { values });
      this.#skippers.set(key, skipper);
    }
    return skipper;
  }
}
