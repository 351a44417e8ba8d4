// `hourglass-events redrive`: puts dead-lettered messages back through the pipeline — the worker's (once their cause is fixed) and Pub/Sub's undeliverable ones — idempotently.
//
// Per dead letter, in this order:
//   1. its marker exists (deadletter/<type>/redriven/…)  → already redriven: nothing to do;
//   2. the worker's own validation (message-validator.ts), against this registry and window length,
//      refuses it → skipped with the reason, since the worker would only dead-letter it again (a redrive
//      never loops); --force republishes it anyway;
//   3. republish its data and attributes, unchanged, to its type's topic and wait for Pub/Sub's ack;
//   4. only then create its marker (create-only); with --delete, only then delete the dead letter.
// A crash, a failure or a racing redrive between 3 and 4 leaves the message published and unmarked, so
// the next redrive publishes it again: never a loss, at worst a second copy. A second copy is harmless
// because the message keeps its attributes, so its events keep their (publisher, seq): while their
// window is open the checker keeps one copy of each (publisher, seq) at the close; once it is closed,
// the late area drops what the closed window or an earlier late file already holds
// (services/checker/window-compactor.ts, late-events.ts). The same holds for a message Pub/Sub
// dead-lettered twice (it may) or that both a worker and the archive hold.
import { HourglassError } from '../../errors/catalogue.ts';
import { isValidTypeName } from '../../registry/type-name.ts';
import { MessageSender } from '../../sdk/message-sender.ts';
import type { Storage } from '../../storage/storage.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../../wire/codecs.ts';
import { topicNames } from '../../wire/topics.ts';
import { MessageValidator } from '../../worker/message-validator.ts';
import type { ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { DeadLetterArea, type DeadLetter } from './dead-letter-area.ts';
import { parseRedriveArgs, type RedriveRequest } from './redrive-args.ts';
import { writeMarker } from './redrive-marker.ts';
import { RedriveTally } from './redrive-tally.ts';

/** Republishes awaiting Pub/Sub's acknowledgement at once. */
const PUBLISHES_IN_FLIGHT = 32;
/** How long one message may take to be acknowledged, retries included, before the run stops. */
const PUBLISH_DEADLINE_MS = 60_000;

export async function runRedrive(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const request = parseRedriveArgs(ctx, cmd, Date.now());
  const storage = await ctx.storage();
  const validator = new MessageValidator(await ctx.registry(), { windowLengthS: ctx.options.windowS, maxBlockBytes: DEFAULT_MAX_OUTPUT_BYTES, codec: undefined });
  const area = await DeadLetterArea.open(storage, request);
  const tally = new RedriveTally();
  const republish = request.dryRun ? undefined : republisher(ctx, storage, request, tally);
  const progress = ctx.progress(request.dryRun ? 'checking dead letters' : 'redrive', undefined, 'dead letters');
  const inFlight = new Set<Promise<void>>();
  /** Per archive file being read: its messages so far, whether every one was (or is being) marked, and the tasks marking them. */
  const archives = new Map<string, ArchiveState>();
  const completions: Array<Promise<void>> = [];
  let taken = 0;
  // The Pub/Sub client's batch timer may be unref'd: hold the process open while acknowledgements are awaited.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    for await (const found of area.find()) {
      if (tally.stoppedBy !== undefined) break;
      if (found.kind === 'already') tally.add(found.type, found.source, 'already', found.count);
      else if (found.kind === 'unreadable') tally.problem({ outcome: 'skipped', type: found.type, source: found.source, deadLetter: found.key, reason: 'unreadable', detail: found.detail });
      else if (found.kind === 'archive-end') {
        const state = archives.get(found.key) ?? newArchiveState();
        archives.delete(found.key);
        if (state.clean && found.whole && republish) completions.push(republish.completeArchive(found.key, found.completeMarker, state.tasks));
      } else {
        const letter = found.letter;
        const archive = letter.source === 'undeliverable' ? archives.get(letter.key) ?? archives.set(letter.key, newArchiveState()).get(letter.key)! : undefined;
        // The same message twice in one archive file (Pub/Sub writes at least once): one publish is enough.
        if (archive?.seen.has(letter.markerKey)) {
          tally.add(letter.type, letter.source, 'already');
          continue;
        }
        archive?.seen.add(letter.markerKey);
        if (taken >= request.limit) {
          tally.limitReached = true;
          break;
        }
        taken++;
        progress.add(1);
        const refusal = refusalOf(validator, letter);
        if (refusal !== undefined && (refusal.final || !request.force)) {
          if (archive) archive.clean = false;
          tally.problem({ outcome: 'skipped', type: letter.type, source: letter.source, deadLetter: letter.label, reason: refusal.reason, detail: refusal.detail });
          continue;
        }
        if (!republish) {
          if (archive) archive.clean = false;
          tally.add(letter.type, letter.source, 'redriven');
          continue;
        }
        while (inFlight.size >= PUBLISHES_IN_FLIGHT) await Promise.race(inFlight);
        const marked = republish.one(letter, refusal !== undefined);
        archive?.tasks.push(marked);
        const tracked: Promise<void> = marked.then(() => void inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }
    await Promise.all(inFlight);
    await Promise.all(completions);
  } finally {
    clearInterval(keepAlive);
    progress.clear();
  }
  tally.print(ctx, { json: request.json, dryRun: request.dryRun, location: storage.location, limit: request.limit });
  return tally.exitCode();
}

interface ArchiveState {
  /** Marker keys of its messages so far. */
  readonly seen: Set<string>;
  /** False once one of its messages is not going to be marked in this run. */
  clean: boolean;
  readonly tasks: Array<Promise<boolean>>;
}

function newArchiveState(): ArchiveState {
  return { seen: new Set(), clean: true, tasks: [] };
}

/** Why the worker would dead-letter this message again; undefined when it would stage it. `final` when not even --force can send it back. */
function refusalOf(validator: MessageValidator, letter: DeadLetter): { reason: string; detail: string; final: boolean } | undefined {
  if (!isValidTypeName(letter.type)) return { reason: 'unknown_type', detail: 'its type attribute names no event type, so it has no topic to go back to', final: true };
  try {
    const verdict = validator.validate(letter.type, letter.data, letter.attributes);
    return verdict.ok ? undefined : { reason: verdict.reason, detail: verdict.detail, final: false };
  } catch (err) {
    // The worker would nack it and see it again: not a message to send back into that.
    return { reason: 'validate_failed', detail: `the validation threw: ${(err as Error).message}`, final: false };
  }
}

interface Republisher {
  /** Publishes the letter, waits for the ack, writes its marker (and deletes it with --delete); resolves true once marked, false on a failure (recorded). Never rejects. */
  one(letter: DeadLetter, forced: boolean): Promise<boolean>;
  /** Once every message of an archive file is marked: its completion marker (and, with --delete, the file goes). */
  completeArchive(key: string, completeMarker: string, tasks: ReadonlyArray<Promise<boolean>>): Promise<void>;
}

function republisher(ctx: CliContext, storage: Storage, request: RedriveRequest, tally: RedriveTally): Republisher {
  const names = topicNames(ctx.options.topicPrefix);
  // Made on first use: a run with nothing to publish does not load the Pub/Sub client.
  let sender: Promise<MessageSender> | undefined;
  const senderOnce = () =>
    (sender ??= ctx.pubsub().then(
      (pubsub) =>
        new MessageSender(
          pubsub,
          { publishDeadlineMs: PUBLISH_DEADLINE_MS, attemptTimeoutMs: 20_000, initialBackoffMs: 100, maxBackoffMs: 5000 },
          { onAttemptFailed: () => undefined, onSent: () => undefined },
        ),
    ));
  const fail = (letter: DeadLetter, reason: string, detail: string) => {
    tally.problem({ outcome: 'failed', type: letter.type, source: letter.source, deadLetter: letter.label, reason, detail });
    // Pub/Sub or the bucket is failing: every further attempt would wait out its deadline too.
    tally.stoppedBy ??= `${reason}: ${detail}`;
    return false;
  };
  return {
    async one(letter, forced) {
      const topic = names.eventTopic(letter.type);
      try {
        await (await senderOnce()).send(topic, letter.data, { ...letter.attributes });
      } catch (err) {
        return fail(letter, 'publish_failed', `not published to ${topic}: ${messageOf(err)}`);
      }
      try {
        await writeMarker(storage, letter.markerKey, {
          format: 'hg-redriven-1', deadLetter: letter.label, messageId: letter.messageId, reason: letter.reason,
          deadLetteredAt: letter.deadLetteredAtMs === undefined ? undefined : new Date(letter.deadLetteredAtMs).toISOString(), topic,
          acknowledgedAt: new Date().toISOString(), forced,
        });
        if (request.deleteAfter && letter.source === 'worker') await storage.delete(letter.key);
      } catch (err) {
        return fail(letter, 'mark_failed', `published to ${topic} but not marked, so a next redrive publishes it again (harmless: the checker keeps one copy): ${messageOf(err)}`);
      }
      tally.add(letter.type, letter.source, 'redriven');
      return true;
    },
    async completeArchive(key, completeMarker, tasks) {
      const marked = await Promise.all(tasks);
      if (!marked.every(Boolean)) return;
      try {
        await writeMarker(storage, completeMarker, { format: 'hg-redriven-archive-1', deadLetter: key, messages: marked.length, completedAt: new Date().toISOString() });
        if (request.deleteAfter) await storage.delete(key);
      } catch (err) {
        // Every message is marked: the next run reads the file again and finds nothing to do.
        tally.stoppedBy ??= `mark_failed: ${key}: ${messageOf(err)}`;
      }
    },
  };
}

function messageOf(err: unknown): string {
  return err instanceof HourglassError ? `${err.message} [${err.code}]` : (err as Error).message;
}
