// `hourglass-events manifest <type> <hour>`: the window's _MANIFEST.json, pretty-printed.
import type { ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { loadClosedWindow } from '../closed-window.ts';

export async function runManifest(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const window = await loadClosedWindow(ctx, cmd.args.type!, cmd.args.hour!, 'manifest');
  if (!window.success) ctx.warn(`hourglass-events: note: ${window.label} has a manifest but no _SUCCESS yet (its close is being finished)`);
  ctx.print(JSON.stringify(window.manifest, null, 2));
  return 0;
}
