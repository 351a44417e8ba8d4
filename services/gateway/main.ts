// The gateway process: options from the environment, telemetry, registry, Pub/Sub client, publisher, server; SIGTERM/SIGINT shut it down gracefully.
//
// Logs JSON lines on stdout (createLogger, service "gateway"); /metrics on the ops port
// serves every instrument of the process: the gateway's and its publisher's (meter "hourglass-sdk").
// Exit codes: 0 after a clean shutdown (every request answered, final heartbeat sent), 1 when the
// shutdown ran out of time or start-up failed, 2 for invalid configuration.
// Configuration: the settings of gateway-options.ts, from the environment; nothing else here reads process.env.
import { PubSub } from '@google-cloud/pubsub';
import { Deadline, shutdownReserveMs } from '../concurrency/deadline.ts';
import { configOrExit } from '../config/config-or-exit.ts';
import { telemetryOptionsOf } from '../config/shared-settings.ts';
import { hasCode } from '../errors/catalogue.ts';
import { Registry } from '../registry/registry.ts';
import { Publisher } from '../sdk/index.ts';
import { startTelemetry } from '../telemetry/telemetry.ts';
import { ClientQuotas } from './client-quotas.ts';
import { resolveGatewayOptions } from './gateway-options.ts';
import { KeyFileSource } from './key-file-source.ts';
import { gatewayLogger } from './log.ts';
import { startGateway } from './server.ts';

// Before anything starts: a refused configuration is one gateway_config_invalid line (every problem) and exit 2.
const options = configOrExit(
  () => resolveGatewayOptions(process.env),
  (_event, { message, problems }) => {
    gatewayLogger().error('gateway_config_invalid', { code: 'HG_CONFIG_INVALID', error: message, problems });
    // The gateway's documented exit code for invalid configuration (configOrExit's own is 1); nothing started yet.
    process.exit(2);
  },
);
const logger = gatewayLogger({ project: options.projectId });
// First: instruments made before a meter provider is registered (the publisher's) would stay no-ops.
const telemetry = startTelemetry({ service: 'gateway', ...telemetryOptionsOf(options) });

async function main(): Promise<number> {
  const registry = await Registry.load(options.schemasDir);
  let keySource: KeyFileSource | undefined;
  const quotas = new ClientQuotas();
  if (options.keysFile !== undefined) {
    try {
      keySource = await KeyFileSource.open({
        path: options.keysFile,
        reloadMs: options.keysReloadMs,
        isKnownType: (type) => registry.get(type) !== undefined,
        logger,
        onReload: (ring) => quotas.retain(new Set(ring.clients())),
      });
    } catch (err) {
      if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
      logger.error('gateway_config_invalid', { code: err.code, error: err.message });
      return 2;
    }
  }
  const source = keySource;
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
    keySource?.close();
    if (!hasCode(err, 'HG_CONFIG_INVALID')) throw err;
    logger.error('gateway_config_invalid', { code: err.code, error: err.message });
    return 2;
  }
  let gateway;
  try {
    gateway = await startGateway({
      publisher,
      registry,
      // The drain gets the budget less a reserve for closing the clients afterwards.
      options: { ...options, shutdownTimeoutMs: options.shutdownTimeoutMs - shutdownReserveMs(options.shutdownTimeoutMs) },
      logger,
      metricsHandler: telemetry.metricsHandler,
      quotas,
      ...(source ? { keys: () => source.ring } : {}),
    });
  } catch (err) {
    keySource?.close();
    await publisher.close().catch(() => undefined);
    await pubsub.close().catch(() => undefined);
    throw err;
  }
  logger.info('gateway_listening', {
    // The text is what chaos/ and bench/ wait for; the event name is what to match from now on.
    message: 'gateway listening',
    url: gateway.url,
    port: gateway.port,
    opsUrl: gateway.opsUrl,
    keySource: source ? { file: options.keysFile, reloadMs: options.keysReloadMs } : options.authEnabled ? 'HOURGLASS_GATEWAY_TOKENS' : 'off',
    mode: options.mode,
    auth: options.authEnabled,
    publisher: publisher.id,
    types: registry.names(),
  });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info('gateway_shutting_down', { signal });
  const exitDeadline = Deadline.after(options.shutdownTimeoutMs);
  // A second signal while draining means "now": exit without waiting any longer.
  const again = (second: NodeJS.Signals) => {
    logger.warn('gateway_forced_exit', { signal: second, reason: 'second signal: exiting before the drain finished' });
    process.exit(1);
  };
  process.once('SIGTERM', again);
  process.once('SIGINT', again);
  // gateway.close() keeps to its budget (options.shutdownTimeoutMs less the teardown reserve); the
  // clients are then closed by the end of the budget, so the process exits before Cloud Run's SIGKILL.
  const report = await gateway.close();
  keySource?.close();
  const teardown = await exitDeadline.race(
    Promise.all([
      pubsub.close().catch((err: unknown) => logger.warn('pubsub_close_failed', { error: err })),
      telemetry.shutdown().catch((err: unknown) => logger.warn('telemetry_shutdown_failed', { error: err })),
    ]),
  );
  if (teardown.status === 'timed_out') logger.warn('gateway_teardown_timed_out', { budgetMs: options.shutdownTimeoutMs });
  return report.drained && report.publisherClosed ? 0 : 1;
}

main().then(
  (code) => exit(code),
  (err: unknown) => {
    logger.error('gateway_failed', { error: err });
    exit(1);
  },
);

/** Exits once the event loop is empty, or 250 ms later at most if some client library still holds a handle (inside Cloud Run's 10 s). */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 250).unref();
}
