#!/usr/bin/env node
// The `hourglass-events` command (package bin): read, check and feed an hourglass bucket. Usage: hourglass-events help.
import { runCli } from '../services/cli/cli.ts';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
// Exit once stdout has taken everything written (a pipe may still hold some), without waiting for idle client sockets.
process.stdout.write('', () => process.exit(code));
