// The gateway's log: the shared logger (services/telemetry/logger.ts) with service "gateway".
import { createLogger, silentLogger, type Logger, type LoggerOptions } from '../telemetry/logger.ts';

export type GatewayLogger = Logger;

/** JSON lines on stdout (default) in the shared format (createLogger): `severity`, `level`, `service`, `event`, `message`, the fields. */
export function gatewayLogger(options: LoggerOptions = {}): GatewayLogger {
  return createLogger('gateway', options);
}

export { silentLogger };
