// `hourglass-events schemas check [--dir DIR]`: loads the registry (every type's config and versions, and their compatibility) and prints what it holds, or why it does not load.
import type { ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { formatTable } from '../text-table.ts';

export async function runSchemasCheck(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const registry = await ctx.registry(cmd.options.dir ?? ctx.options.schemasDir);
  const rows = registry.types().map((t) => [
    t.name,
    t.versions.map((v) => `v${v.version}`).join(','),
    t.config.tier,
    `${t.config.livenessTimeoutMs / 1000}s`,
    `${t.config.maxWaitMs / 1000}s`,
    t.config.owner,
  ]);
  for (const line of formatTable(['TYPE', 'VERSIONS', 'TIER', 'LIVENESS', 'MAX WAIT', 'OWNER'], rows)) ctx.print(line);
  ctx.print(`ok: ${rows.length} type(s) in ${registry.dir}; every version reads the data of the versions before it`);
  return 0;
}
