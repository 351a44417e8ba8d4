// `hourglass-events ls <type>`: the closed windows of a type, oldest first, with status, counts, files and close delay.
import type { ClosedManifest } from '../../checker/closed-manifest.ts';
import { layout } from '../../storage/layout.ts';
import { positiveInt, type ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError } from '../cli-error.ts';
import { formatBytes } from '../progress.ts';
import { formatDuration, formatTable } from '../text-table.ts';
import { formatWindow } from '../window-arg.ts';

/** Manifests read at once. */
const CONCURRENCY = 8;

export async function runLs(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const type = ctx.typeArg(cmd.args.type!, 'ls');
  const limit = positiveInt('limit', cmd.options.limit, Number.MAX_SAFE_INTEGER, 'ls');
  const storage = await ctx.storage();
  const objects = await storage.list(layout.closedType(type));
  const dirs = new Map<string, { manifest: boolean; success: boolean }>();
  for (const o of objects) {
    const slash = o.key.lastIndexOf('/');
    const name = o.key.slice(slash + 1);
    if (name !== layout.manifestName && name !== layout.successName) continue;
    const dir = o.key.slice(0, slash + 1);
    const entry = dirs.get(dir) ?? { manifest: false, success: false };
    if (name === layout.manifestName) entry.manifest = true;
    else entry.success = true;
    dirs.set(dir, entry);
  }
  const chosen = [...dirs].filter(([, e]) => e.manifest).map(([dir, e]) => ({ dir, success: e.success })).slice(-limit);
  if (chosen.length === 0) {
    const registry = await ctx.registry().catch(() => undefined);
    const hint = registry && !registry.get(type) ? ` ("${type}" is not a registered type; known: ${registry.names().join(', ')})` : '';
    throw new CliError(`no closed windows of "${type}" at ${storage.location}${hint}`);
  }
  const progress = ctx.progress(`ls ${type}`, chosen.length, 'manifests');
  const manifests: ClosedManifest[] = new Array(chosen.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, chosen.length) }, async () => {
      while (next < chosen.length) {
        const i = next++;
        manifests[i] = JSON.parse((await storage.get(chosen[i]!.dir + layout.manifestName)).toString('utf8')) as ClosedManifest;
        progress.add(1);
      }
    }),
  );
  progress.clear();
  const rows = chosen.map(({ dir, success }, i) => {
    const m = manifests[i]!;
    return {
      window: formatWindow(m.window, m.windowS),
      windowStart: m.windowStart,
      status: success ? m.status : 'committing',
      events: m.events,
      lost: m.lostEvents,
      abandoned: m.abandonedEvents,
      files: m.files.length,
      bytes: m.files.reduce((n, f) => n + f.bytes, 0),
      closeDelayMs: m.closeDelayMs,
      path: `${storage.location}/${dir}`,
    };
  });
  rows.sort((a, b) => a.windowStart.localeCompare(b.windowStart));
  if (cmd.options.json) {
    for (const r of rows) ctx.print(JSON.stringify(r));
    return 0;
  }
  const table = formatTable(
    ['WINDOW', 'STATUS', 'EVENTS', 'LOST', 'ABANDONED', 'FILES', 'BYTES', 'CLOSE DELAY', 'PATH'],
    rows.map((r) => [r.window, r.status, String(r.events), String(r.lost), String(r.abandoned), String(r.files), formatBytes(r.bytes), formatDuration(r.closeDelayMs), r.path]),
  );
  for (const line of table) ctx.print(line);
  return 0;
}
