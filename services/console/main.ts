// Process entry of the status console: settings from the environment, serve until SIGTERM/SIGINT.
import path from 'node:path';
import { configOrExit } from '../config/config-or-exit.ts';
import { Registry } from '../registry/registry.ts';
import { createLogger } from '../telemetry/logger.ts';
import { openStorage } from '../storage/open-storage.ts';
import { resolveConsoleOptions } from './console-options.ts';
import { startConsole } from './console-server.ts';

const options = configOrExit(() => resolveConsoleOptions(process.env), (event, fields) => createLogger('console').error(event, fields));
const log = createLogger('console', { project: options.projectId });

try {
  const registry = await Registry.load(options.schemasDir);
  // file://./relative is relative to the working directory, as the other services read it.
  const location = options.location.replace(/^file:\/\/(?!\/)/, `file://${process.cwd()}${path.sep}`);
  const storage = await openStorage(location, { gcsEndpoint: options.gcsEndpoint, projectId: options.gcsEndpoint ? options.projectId : undefined });
  const running = await startConsole({ storage, registry, port: options.port, host: options.host, windowS: options.windowS });
  log.info('console_started', { url: running.url, location: storage.location });
  const shutdown = async (signal: string) => {
    log.info('console_stopping', { signal });
    await running.close();
    await storage.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
} catch (err) {
  log.error('console_start_failed', { error: err });
  process.exit(1);
}
