// Writes a message that cannot be staged to deadletter/<type>/…/<message id>.json, with its bytes, attributes and the reason, before it is acked.
//
// Nothing is dropped: the record keeps the message's data verbatim (base64) so it can be inspected
// or replayed. Create-only, and an existing object is fine: it is the same message delivered again.
import { hasCode } from '../errors/catalogue.ts';
import { DEAD_LETTER_NOTE_FORMAT, deadLetterNoteKey, type DeadLetterNote } from '../storage/dead-letter-note.ts';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { Clock } from '../time/clock.ts';
import type { InboundMessage } from './message-source.ts';
import type { DeadLetterReason, MessageSplit, RejectedMessage } from './message-validator.ts';
import { retryWrite, type RetryOutcome, type RetryPolicy } from './write-retry.ts';

/** The JSON object of one dead letter. */
export interface DeadLetterRecord {
  /** Stable reason code (see DEAD_LETTER_REASONS). */
  readonly reason: string;
  /** What exactly was wrong. */
  readonly detail: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The message data, verbatim. */
  readonly dataBase64: string;
  readonly messageId: string;
  /** When Pub/Sub accepted the message (ISO 8601). */
  readonly publishTime: string;
  readonly subscription: string;
  readonly worker: string;
  /** When the worker dead-lettered it (UTC µs). */
  readonly atUs: number;
  /**
   * When the message's seqs are known: which of them this dead letter accounts for, [from, to). The
   * others of the message (if any) were kept and staged; the data above is still the whole message.
   */
  readonly deadLetteredSeqs?: Array<[number, number]>;
}

export class DeadLetterWriter {
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #workerId: string;
  readonly #policy: RetryPolicy;
  readonly #onRetry: (err: unknown) => void;

  constructor(storage: Storage, clock: Clock, workerId: string, policy: RetryPolicy, onRetry: (err: unknown) => void) {
    this.#storage = storage;
    this.#clock = clock;
    this.#workerId = workerId;
    this.#policy = policy;
    this.#onRetry = onRetry;
  }

  /** Writes the dead letter; resolves ok once it is durable (then the message may be acked). */
  async write(m: InboundMessage, verdict: RejectedMessage): Promise<RetryOutcome<string>> {
    const atUs = this.#clock.nowUs();
    const record: DeadLetterRecord = {
      reason: verdict.reason,
      detail: verdict.detail,
      attributes: m.attributes,
      dataBase64: m.data.toString('base64'),
      messageId: m.id,
      publishTime: new Date(m.publishTimeMs).toISOString(),
      subscription: m.subscription,
      worker: this.#workerId,
      atUs,
      ...(verdict.split ? { deadLetteredSeqs: verdict.split.deadLettered } : {}),
    };
    return this.#createOnce(`${layout.deadletter(verdict.typeDir, Math.floor(atUs / 1000))}${safeName(m.id)}.json`, record);
  }

  /**
   * Notes the dead-lettered seqs in their window's staging (after the dead letter is durable, before the
   * ack), so the checker's proof accounts for them instead of waiting for them as lost.
   */
  async writeNote(m: InboundMessage, reason: DeadLetterReason, split: MessageSplit, deadLetterKey: string): Promise<RetryOutcome<string>> {
    const a = split.attributes;
    const note: DeadLetterNote = {
      format: DEAD_LETTER_NOTE_FORMAT,
      type: a.type,
      window: a.window,
      windowS: a.windowS,
      publisher: a.publisher,
      ranges: split.deadLettered,
      deadLetter: deadLetterKey,
      reason,
      messageId: m.id,
      minReceiveUs: a.minReceiveUs,
      maxReceiveUs: a.maxReceiveUs,
      worker: this.#workerId,
      writtenAtUs: this.#clock.nowUs(),
    };
    return this.#createOnce(deadLetterNoteKey({ type: a.type, index: a.window, lengthS: a.windowS }, this.#workerId, safeName(m.id)), note);
  }

  /**
   * Creates `key` holding `value` as JSON, retried. An object already there is fine: the same message,
   * delivered again, written before (a dead letter of the same message, a note of the same seqs).
   */
  #createOnce(key: string, value: object): Promise<RetryOutcome<string>> {
    const bytes = Buffer.from(JSON.stringify(value), 'utf8');
    return retryWrite(
      async () => {
        try {
          await this.#storage.createOnly(key, bytes);
        } catch (err) {
          if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
        }
        return key;
      },
      this.#policy,
      this.#onRetry,
    );
  }
}

/** A message id as an object name: Pub/Sub ids are digits, but nothing outside a safe alphabet gets into a key. */
export function safeName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
  return safe === '' || safe.startsWith('.') ? `id${safe}` : safe;
}
