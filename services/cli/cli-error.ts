// Errors the CLI reports to its user: a message and the exit code (1 failure, 2 bad usage).

/** A failure the user should read (exit code 1 unless given): no stack trace is printed. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong (unknown command or flag, missing or malformed argument): exit code 2, with usage. */
export class UsageError extends CliError {
  /** The command whose synopsis to print, if known. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message, 2);
    this.name = 'UsageError';
    this.command = command;
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
