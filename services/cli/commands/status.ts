// `hourglass-events status`: the recent windows of every type and their states, from the same snapshot the status page shows.
import { BucketStatusReader } from '../../console/status-reader.ts';
import type { StatusCell } from '../../console/status-model.ts';
import { positiveInt, type ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { formatDuration, formatTable } from '../text-table.ts';
import { formatWindow } from '../window-arg.ts';

export async function runStatus(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const windows = positiveInt('windows', cmd.options.windows, 12, 'status');
  const type = cmd.options.type === undefined ? undefined : ctx.typeArg(cmd.options.type, 'status');
  const storage = await ctx.storage();
  const registry = await ctx.registry().catch(() => undefined);
  const reader = new BucketStatusReader({ storage, registry, windowS: ctx.options.windowS });
  const snapshot = await reader.snapshot({ windows, ...(type === undefined ? {} : { type }) });
  if (cmd.options.json) {
    ctx.print(JSON.stringify(snapshot, null, 2));
    return 0;
  }
  const first = snapshot.windows[0]!;
  ctx.print(`${snapshot.location} · ${snapshot.windowS} s windows · the last ${snapshot.windows.length} (since ${first.windowStart}) · at ${snapshot.generatedAt}`);
  for (const c of snapshot.checkers) {
    ctx.print(`checker ${c.id}: reported ${formatDuration(c.ageMs)} ago${c.errors.length ? `, ${c.errors.length} recent error(s): ${c.errors[c.errors.length - 1]}` : ''}`);
  }
  const alive = snapshot.publishers.filter((p) => p.alive).length;
  const finished = snapshot.publishers.filter((p) => p.final).length;
  ctx.print(`publishers: ${alive} alive, ${finished} finished, ${snapshot.publishers.length - alive - finished} silent`);
  for (const note of snapshot.notes) ctx.print(`note: ${note}`);
  if (snapshot.unknownTypeDeadLetters > 0) ctx.print(`note: ${snapshot.unknownTypeDeadLetters} dead letter(s) without a valid type (deadletter/_unknown/)`);
  for (const t of snapshot.types) {
    const cells = snapshot.cells.filter((c) => c.type === t.name);
    ctx.print('');
    ctx.print(`${t.name}${t.tier ? ` (tier ${t.tier})` : ''}${t.registered ? '' : ' (not in the registry)'}`);
    if (cells.length === 0) {
      ctx.print('  no windows with events in this range');
      continue;
    }
    const table = formatTable(
      ['WINDOW', 'STATE', 'EVENTS', 'CLOSE DELAY', 'LOST', 'ABANDONED', 'LATE', 'DEAD', 'WAITING ON'],
      cells.map((c) => row(c, snapshot.windowS)),
      '  ',
    );
    for (const line of table) ctx.print(line);
  }
  return 0;
}

function row(c: StatusCell, windowS: number): string[] {
  const events = c.events ?? c.stagedEvents;
  return [
    formatWindow(c.window, windowS),
    c.state,
    events === undefined ? '–' : c.events === undefined ? `${events} staged` : String(events),
    formatDuration(c.closeDelayMs),
    c.lostEvents === undefined ? '–' : String(c.lostEvents),
    c.abandonedEvents === undefined ? '–' : String(c.abandonedEvents),
    String(c.lateEvents),
    String(c.deadLetters),
    (c.waitingOn ?? []).join('; '),
  ];
}
