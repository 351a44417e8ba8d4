// `hourglass-events wait <type> <hour>`: blocks until the window is closed (its _SUCCESS exists), for schedulers; the exit code says how it closed.
//
// Reads the bucket, not the closed-windows topic: it needs no subscription of its own and cannot miss an
// event sent before it started. It polls with a growing interval (1 s up to --poll-max-s), one stat a poll.
import { readClosedManifest } from '../../checker/window-closer.ts';
import { HourglassError } from '../../errors/catalogue.ts';
import { layout } from '../../storage/layout.ts';
import { windowEndUs } from '../../wire/window.ts';
import { positiveInt, type ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { UsageError } from '../cli-error.ts';
import { formatWindow, parseWindowArg } from '../window-arg.ts';

/** Closed complete: every event is there. */
export const EXIT_WAIT_COMPLETE = 0;
/** Closed incomplete: closed after its max wait, with lost events named in its manifest. */
export const EXIT_WAIT_INCOMPLETE = 3;
/** Not closed within --timeout. */
export const EXIT_WAIT_TIMEOUT = 4;

export async function runWait(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const type = ctx.typeArg(cmd.args.type!, 'wait');
  const windowS = ctx.options.windowS;
  const index = parseWindowArg(cmd.args.hour!, windowS, 'wait');
  const timeoutS = durationS(cmd.options.timeout, 'wait');
  const pollMaxS = positiveInt('poll-max-s', cmd.options['poll-max-s'], 10, 'wait');
  if (pollMaxS > 3600) throw new UsageError(`--poll-max-s must be at most 3600, got ${pollMaxS}`, 'wait');
  const storage = await ctx.storage();
  const ref = { type, index, lengthS: windowS };
  const dir = layout.closed(ref);
  const label = `${type} ${formatWindow(index, windowS)}`;
  const deadline = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  let intervalS = 1;
  for (;;) {
    // A storage error that says to retry (a blip in a long wait) is waited out like a window not yet closed.
    const closed = await storage.stat(dir + layout.successName).catch((err: unknown) => {
      if (err instanceof HourglassError && err.retryable) {
        ctx.warn(`hourglass-events: ${label}: ${err.message} (retrying)`);
        return undefined;
      }
      throw err;
    });
    if (closed) {
      const manifest = await readClosedManifest(storage, ref);
      if (!manifest) throw new Error(`${dir}${layout.manifestName}: _SUCCESS exists but the manifest does not (the bucket was changed by hand?)`);
      if (cmd.options.json) ctx.print(JSON.stringify({ type, windowStart: manifest.windowStart, status: manifest.status, events: manifest.events, lostEvents: manifest.lostEvents, folder: `${storage.location}/${dir}` }));
      else ctx.print(`${label}: ${manifest.status}, ${manifest.events} events${manifest.lostEvents > 0 ? `, ${manifest.lostEvents} lost` : ''}, closed ${(manifest.closeDelayMs / 1000).toFixed(1)} s after its end (${storage.location}/${dir})`);
      return manifest.status === 'complete' ? EXIT_WAIT_COMPLETE : EXIT_WAIT_INCOMPLETE;
    }
    const leftMs = deadline - Date.now();
    if (leftMs <= 0) {
      const endsIn = windowEndUs(index, windowS) / 1000 - Date.now();
      ctx.warn(`hourglass-events: ${label} is not closed after ${timeoutS} s${endsIn > 0 ? ` (it ends in ${Math.ceil(endsIn / 1000)} s)` : ''}`);
      return EXIT_WAIT_TIMEOUT;
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalS * 1000, leftMs)));
    intervalS = Math.min(pollMaxS, intervalS * 2);
  }
}

/** --timeout: seconds, or a number with s, m or h; absent waits for ever. */
function durationS(raw: string | undefined, command: string): number | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(raw.trim());
  if (!m) throw new UsageError(`--timeout must be a duration such as 90, 90s, 30m or 2h, got ${JSON.stringify(raw)}`, command);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}
