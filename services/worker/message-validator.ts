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
    const type = this.#registry.get(a.type);
    if (type === undefined) return reject('unknown_type', `type "${a.type}" is not in the registry`);
    const schema = type.versions[a.version - 1];
    if (schema === undefined || schema.version !== a.version) {
      return reject('unknown_version', `type "${a.type}" has no schema version ${a.version} (versions 1..${type.latest.version})`);
    }

    let datums: Buffer;
    try {
      datums = decompressBlock(a.codec, data, { maxOutputLength: this.#options.maxBlockBytes });
    } catch (err) {
      if (err instanceof CorruptBlockError) return reject('corrupt_block', err.message);
      throw err;
    }
    const proof = proveRecordCount(this.#skipper(a.type, schema), datums, a.count);
    if (!proof.ok) return reject('bad_records', `not ${a.count} records of ${a.type} v${a.version}: ${proof.reason}`);

    const codec = this.#options.codec ?? a.codec;
    const body = codec === a.codec ? data : compressBlock(codec, datums);
    return { ok: true, attributes: a, schema, body, codec };
  }

  #skipper(type: string, schema: SchemaVersion): Skipper {
    const key = `${type}:${schema.version}`;
    let skipper = this.#skippers.get(key);
    if (skipper === undefined) {
      // Strict UTF-8, as strict readers (fastavro, BigQuery) will read these files.
      skipper = compileSkipper(schema.deliveredSchema);
      this.#skippers.set(key, skipper);
    }
    return skipper;
  }
}
