// The hourglass-events command line: parses arguments, runs one command, and turns every outcome into an exit code (0 ok, 1 failure, 2 bad usage).
import { HourglassError } from '../errors/catalogue.ts';
import { NO_COMMAND, parseCommandLine, type CommandName, type ParsedCommandLine } from './args.ts';
import { CliContext, type CliIo } from './cli-context.ts';
import { CliError, EXIT_FAILURE, EXIT_OK, UsageError } from './cli-error.ts';
import { resolveCliOptions } from './cli-options.ts';
import { COMMAND_HELP, SHORT_USAGE, USAGE } from './usage.ts';
import { cliVersion } from './version.ts';

type Runner = (ctx: CliContext, cmd: ParsedCommandLine) => Promise<number>;

// Loaded on demand: `schemas check` should not pay for the GCS and Pub/Sub clients.
const COMMANDS: Record<Exclude<CommandName, 'help' | 'version'>, () => Promise<Runner>> = {
  status: async () => (await import('./commands/status.ts')).runStatus,
  ls: async () => (await import('./commands/ls.ts')).runLs,
  cat: async () => (await import('./commands/cat.ts')).runCat,
  manifest: async () => (await import('./commands/manifest.ts')).runManifest,
  verify: async () => (await import('./commands/verify.ts')).runVerify,
  wait: async () => (await import('./commands/wait.ts')).runWait,
  schemas: async () => (await import('./commands/schemas-check.ts')).runSchemasCheck,
  publish: async () => (await import('./commands/publish.ts')).runPublish,
  redrive: async () => (await import('./commands/redrive.ts')).runRedrive,
};

/** Runs the CLI with `argv` (after the script name); resolves to the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let ctx: CliContext | undefined;
  try {
    const cmd = parseCommandLine(argv);
    if (cmd.command === 'help') {
      const topic = cmd.extra[0];
      if (topic !== undefined && !(topic in COMMAND_HELP)) throw new UsageError(`unknown command "${topic}"`);
      io.stdout.write(`${topic === undefined ? USAGE : COMMAND_HELP[topic]}\n`);
      return EXIT_OK;
    }
    if (cmd.command === 'version') {
      io.stdout.write(`${cliVersion()}\n`);
      return EXIT_OK;
    }
    ctx = new CliContext(resolveCliOptions(cmd.options, io.env), io);
    const run = await COMMANDS[cmd.command]();
    return await run(ctx, cmd);
  } catch (err) {
    return report(err, io);
  } finally {
    await ctx?.close().catch(() => undefined);
  }
}

function report(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    // The whole text when no command was given; else the synopsis, so the error stays in view.
    const usage = err.command ? COMMAND_HELP[err.command]!.split('\n')[0] : err.message === NO_COMMAND ? USAGE : SHORT_USAGE;
    io.stderr.write(`hourglass-events: ${err.message}\n${usage}\n(hourglass-events help${err.command ? ` ${err.command}` : ''} for more)\n`);
    return err.exitCode;
  }
  if (err instanceof CliError) {
    io.stderr.write(`hourglass-events: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof HourglassError) {
    io.stderr.write(`hourglass-events: ${err.message} [${err.code}]\n`);
    return EXIT_FAILURE;
  }
  // Not expected: say so, with the stack, so it can be reported.
  io.stderr.write(`hourglass-events: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  return EXIT_FAILURE;
}
