// The gateway process: options from the environment, registry, Pub/Sub client, publisher, server; SIGTERM/SIGINT shut it down gracefully.
//
// Exit codes: 0 after a clean shutdown (every request answered, final heartbeat sent), 1 when the
// shutdown ran out of time or start-up failed, 2 for invalid configuration.
import { PubSub } from '@google-cloud/pubsub';
import { hasCode } from '../errors/catalogue.ts';
import { Registry } from '../registry/registry.ts';
import { Publisher } from '../sdk/index.ts';
import { resolveGatewayOptions, type GatewayOptions } from './gateway-options.ts';
import { jsonLogger } from './log.ts';
import { startGateway } from './server.ts';

const logger = jsonLogger();

async function main(): Promise<number> {
  let options: GatewayOptions;
  try {
    options = resolveGatewayOptions(process.env);
  } catch (err) {
    if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
    logger.log('ERROR', err.message, { code: err.code });
    return 2;
  }
  const registry = await Registry.load(options.schemasDir);
  // PUBSUB_EMULATOR_HOST, when set, is honoured by the client itself.
  const pubsub = new PubSub(options.projectId === undefined ? {} : { projectId: options.projectId });
  let publisher: Publisher;
  try {
    publisher = new Publisher({
      registry,
      pubsub,
      topicPrefix: options.topicPrefix,
      windowLengthS: options.windowS,
      maxEventBytes: options.maxEventBytes,
      origin: 'gateway',
    });
  } catch (err) {
    await pubsub.close().catch(() => undefined);
    if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
    logger.log('ERROR', err.message, { code: err.code });
    return 2;
  }
  let gateway;
  try {
    gateway = await startGateway({ publisher, registry, options, logger });
  } catch (err) {
    await publisher.close().catch(() => undefined);
    await pubsub.close().catch(() => undefined);
    throw err;
  }
  logger.log('INFO', 'gateway listening', {
    url: gateway.url,
    port: gateway.port,
    mode: options.mode,
    auth: options.authEnabled,
    publisher: publisher.id,
    types: registry.names(),
  });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.log('INFO', 'gateway shutting down', { signal });
  // A second signal while draining means "now": exit without waiting any longer.
  const again = () => {
    logger.log('WARNING', 'second signal: exiting before the drain finished');
    process.exit(1);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  const report = await gateway.close();
  await pubsub.close().catch((err: unknown) => logger.log('WARNING', 'closing the Pub/Sub client failed', { error: err }));
  return report.drained && report.publisherClosed ? 0 : 1;
}

main().then(
  (code) => exit(code),
  (err: unknown) => {
    logger.log('ERROR', 'gateway failed', { error: err });
    exit(1);
  },
);

/** Exits once the event loop is empty, or after a second at most if some client library still holds a handle. */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}
