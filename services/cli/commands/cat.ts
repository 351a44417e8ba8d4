// `hourglass-events cat <type> <hour>`: every record of a closed window as JSON lines, streamed part by part and block by block.
import type { ParsedCommandLine } from '../args.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError } from '../cli-error.ts';
import { loadClosedWindow } from '../closed-window.ts';
import { ContainerReader } from '../../wire/container-reader.ts';
import { OutputSink } from '../output-sink.ts';
import { RecordDecoder, toJsonLine } from '../../wire/record-decoder.ts';

export async function runCat(ctx: CliContext, cmd: ParsedCommandLine): Promise<number> {
  const window = await loadClosedWindow(ctx, cmd.args.type!, cmd.args.hour!, 'cat');
  if (!window.success) throw new CliError(`window ${window.label} is not closed yet (no _SUCCESS beside its manifest): try again in a moment`);
  const storage = await ctx.storage();
  const sink = new OutputSink(ctx.io.stdout);
  const progress = ctx.progress(`cat ${window.label}`, window.manifest.events, 'records');
  try {
    for (const file of window.manifest.files) {
      const key = window.dir + file.name;
      const info = await storage.stat(key);
      if (!info) throw new CliError(`${storage.location}/${key} is missing (listed in the manifest; run "hourglass-events verify ${window.label}")`);
      if (info.size !== file.bytes) {
        throw new CliError(`${storage.location}/${key} is ${info.size} bytes, the manifest says ${file.bytes}: the file was changed or truncated (run "hourglass-events verify ${window.label}")`);
      }
      const reader = await ContainerReader.open(storage, key, file.bytes).catch((err: unknown) => {
        throw new CliError(`${storage.location}/${key}: ${(err as Error).message}`);
      });
      const decoder = new RecordDecoder(reader.header.schemaJson, reader.header.codec);
      try {
        for await (const block of reader.blocks()) {
          // One write per block: the block's records are already in memory, and a chunk of lines
          // costs one trip through the stream instead of one per record.
          let lines = '';
          for (const record of decoder.decodeBlock(block.body, block.count)) lines += toJsonLine(record);
          await sink.write(lines);
          progress.add(block.count);
          if (sink.closed) return 0;
        }
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`${storage.location}/${key}: ${(err as Error).message} (run "hourglass-events verify ${window.label}")`);
      }
    }
  } finally {
    progress.clear();
  }
  return 0;
}
