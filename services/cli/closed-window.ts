// Finds the closed window a <type> <hour> pair names, with its manifest, or explains why there is none (wrong window length, still closing, unknown type).
import type { ClosedManifest } from '../checker/closed-manifest.ts';
import { hasCode } from '../errors/catalogue.ts';
import { layout, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { CliContext } from './cli-context.ts';
import { CliError } from './cli-error.ts';
import { formatWindow, parseWindowArg } from './window-arg.ts';

export interface ClosedWindow {
  readonly ref: WindowRef;
  /** Folder of the window, ending in "/": <type>/dt=…/hour=…/ */
  readonly dir: string;
  readonly manifest: ClosedManifest;
  /** _SUCCESS exists: the window is final and readers may use it. */
  readonly success: boolean;
  /** How the CLI prints this window. */
  readonly label: string;
}

export async function loadClosedWindow(ctx: CliContext, typeArg: string, hourArg: string, command: string): Promise<ClosedWindow> {
  const type = ctx.typeArg(typeArg, command);
  const windowS = ctx.options.windowS;
  const index = parseWindowArg(hourArg, windowS, command);
  const ref: WindowRef = { type, index, lengthS: windowS };
  const storage = await ctx.storage();
  const dir = layout.closed(ref);
  const label = `${type} ${formatWindow(index, windowS)}`;
  let manifest: ClosedManifest;
  try {
    manifest = JSON.parse((await storage.get(dir + layout.manifestName)).toString('utf8')) as ClosedManifest;
  } catch (err) {
    if (hasCode(err, 'HG_STORAGE_NOT_FOUND')) throw new CliError(await explainMissing(ctx, storage, ref, dir, label));
    if (err instanceof SyntaxError) throw new CliError(`${storage.location}/${dir}${layout.manifestName} is not valid JSON: ${err.message}`);
    throw err;
  }
  const success = (await storage.stat(dir + layout.successName)) !== undefined;
  return { ref, dir, manifest, success, label };
}

async function explainMissing(ctx: CliContext, storage: Storage, ref: WindowRef, dir: string, label: string): Promise<string> {
  const where = `${storage.location}/${dir}`;
  const below = await storage.list(dir);
  const nested = below.find((o) => o.key.endsWith(`/${layout.manifestName}`));
  if (nested) {
    const other = JSON.parse((await storage.get(nested.key)).toString('utf8')) as Partial<ClosedManifest>;
    return `no closed ${ref.lengthS} s window ${label} at ${where}; the windows under it are ${other.windowS ?? '?'} s long: pass --window-s ${other.windowS ?? '<seconds>'} (and name one window by its start, see "hourglass-events ls ${ref.type}")`;
  }
  if (below.length > 0) return `window ${label} is being closed (files at ${where} but no ${layout.manifestName} yet): try again in a moment`;
  let hint = '';
  const registry = await ctx.registry().catch(() => undefined);
  if (registry && !registry.get(ref.type)) hint = ` ("${ref.type}" is not a registered type; known: ${registry.names().join(', ')})`;
  else if ((await storage.list(layout.closedType(ref.type))).length === 0) hint = ` (no closed windows of "${ref.type}" at all)`;
  return `no closed window ${label} at ${where}${hint}`;
}
