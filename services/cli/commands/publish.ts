// `hourglass-events publish <type> <file.jsonl>`: checks every line, then publishes them through the SDK Publisher (all or nothing per file unless --skip-invalid).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { HourglassError } from '../../errors/catalogue.ts';
import type { SchemaVersion } from '../../registry/registry.ts';
import { Publisher, type PublishItem } from '../../sdk/index.ts';
import { positiveInt, type ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, UsageError } from '../cli-error.ts';
import { CLI_ORIGIN, parseEventLine } from '../event-line.ts';

/** Events per publishMany call, and calls in flight at once. */
const CHUNK_EVENTS = 1000;
const CHUNKS_IN_FLIGHT = 4;
/** Invalid lines listed before "and N more". */
const MAX_LISTED = 20;

export async function runPublish(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const type = ctx.typeArg(cmd.args.type!, 'publish');
  const file = path.resolve(ctx.io.cwd, cmd.args['file.jsonl']!);
  const skipInvalid = cmd.options['skip-invalid'] ?? false;
  const registry = await ctx.registry();
  if (!registry.get(type)) throw new UsageError(`unknown event type "${type}" (known: ${registry.names().join(', ')})`, 'publish');
  const versionNumber = cmd.options['schema-version'] === undefined ? undefined : positiveInt('schema-version', cmd.options['schema-version'], 1, 'publish');
  let version: SchemaVersion;
  try {
    version = versionNumber === undefined ? registry.require(type).latest : registry.version(type, versionNumber);
  } catch (err) {
    throw new UsageError((err as Error).message, 'publish');
  }
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new CliError(`cannot read ${cmd.args['file.jsonl']}: no such file`);

  // Pass 1: check every line, so a bad line anywhere stops the file before anything is sent.
  const invalid: string[] = [];
  let invalidCount = 0;
  let valid = 0;
  const check = ctx.progress('checking', info.size, 'bytes');
  for await (const { line, number, bytes } of lines(file)) {
    check.add(bytes);
    const parsed = parseEventLine(line, version);
    if (parsed.kind === 'event') valid++;
    else if (parsed.kind === 'invalid') {
      invalidCount++;
      if (invalid.length < MAX_LISTED) invalid.push(`line ${number}: ${parsed.problem}`);
    }
  }
  check.clear();
  if (invalidCount > 0) {
    ctx.warn(`hourglass-events: ${cmd.args['file.jsonl']}: ${invalidCount} invalid line(s) for ${type} v${version.version}:`);
    for (const p of invalid) ctx.warn(`  ${p}`);
    if (invalidCount > invalid.length) ctx.warn(`  … and ${invalidCount - invalid.length} more`);
    if (!skipInvalid) {
      ctx.warn('hourglass-events: nothing was published (all or nothing per file; --skip-invalid publishes the valid lines)');
      return 1;
    }
  }
  if (valid === 0) {
    ctx.print(`published 0 events of ${type}: ${cmd.args['file.jsonl']} holds none`);
    return invalidCount > 0 ? 1 : 0;
  }

  // Pass 2: publish. publishMany resolves once Pub/Sub acknowledged every event of the chunk.
  const pubsub = await ctx.pubsub();
  const publisher = new Publisher({
    registry,
    pubsub,
    windowLengthS: ctx.options.windowS,
    origin: CLI_ORIGIN,
    publishDeadlineMs: 30_000,
    ...(ctx.options.topicPrefix === undefined ? {} : { topicPrefix: ctx.options.topicPrefix }),
  });
  const progress = ctx.progress(`publish ${type}`, valid, 'events');
  let acknowledged = 0;
  let failure: unknown;
  const inFlight: Array<Promise<void>> = [];
  const send = (items: PublishItem[]) =>
    publisher.publishMany(type, items, { version: version.version }).then(
      () => {
        acknowledged += items.length;
        progress.add(items.length);
      },
      (err: unknown) => void (failure ??= err),
    );
  // The SDK's linger timer is unref'd (a library must not keep its host alive), so while a partial
  // batch lingers nothing else may hold the event loop open and the process would exit with the
  // publish unsettled. A CLI that exists to publish holds it open itself until done.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    let chunk: PublishItem[] = [];
    for await (const { line } of lines(file)) {
      if (failure) break;
      const parsed = parseEventLine(line, version);
      if (parsed.kind !== 'event') continue;
      chunk.push(parsed.item);
      if (chunk.length === CHUNK_EVENTS) {
        inFlight.push(send(chunk));
        chunk = [];
        if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
      }
    }
    if (chunk.length > 0 && !failure) inFlight.push(send(chunk));
    const settled = Promise.all(inFlight);
    await publisher.flush(); // nothing more is coming: send the last batch now rather than after its linger
    await settled;
  } finally {
    clearInterval(keepAlive);
    progress.clear();
    await publisher.close().catch(() => undefined);
  }
  if (failure) {
    const why = failure instanceof HourglassError ? failure.message : String((failure as Error).message ?? failure);
    throw new CliError(`publishing ${type} failed after ${acknowledged} of ${valid} events were acknowledged: ${why}`);
  }
  ctx.print(`published ${acknowledged} events of ${type} (v${version.version}) from ${cmd.args['file.jsonl']} as publisher ${publisher.id}`);
  return invalidCount > 0 ? 1 : 0;
}

/** The file's lines, numbered from 1, with their size in bytes (for progress). */
async function* lines(file: string): AsyncGenerator<{ line: string; number: number; bytes: number }> {
  const input = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let number = 0;
  for await (const line of input) {
    number++;
    yield { line, number, bytes: Buffer.byteLength(line) + 1 };
  }
}
