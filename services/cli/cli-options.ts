// The CLI's configuration schema (services/config): its global settings, each from a flag, then the environment, then the default.
import { hasCode } from '../errors/catalogue.ts';
import { resolveSettings, settings, type Resolved } from '../config/settings.ts';
import { bucket, gcsEndpoint, project, pubsubEmulatorHost, schemasDir, topicPrefix, windowS } from '../config/shared-settings.ts';
import type { OptionValues } from './args.ts';
import { UsageError } from './cli-error.ts';

export const CLI_SETTINGS = settings({
  location: { ...bucket, flag: 'location' },
  gcsEndpoint: { ...gcsEndpoint, flag: 'gcs-endpoint' },
  windowS: { ...windowS, flag: 'window-s', doc: 'Window length, to find a window from <hour>.' },
  schemasDir: { ...schemasDir, doc: 'Schemas folder of the registry (`schemas check --dir` overrides).' },
  project: { ...project, flag: 'project', doc: 'Google Cloud project for publish and redrive.' },
  topicPrefix: { ...topicPrefix, flag: 'topic-prefix', doc: 'Topic prefix for publish and redrive.' },
  pubsubEmulatorHost: { ...pubsubEmulatorHost, doc: 'Pub/Sub emulator host:port for publish and redrive. Unset: the real Pub/Sub.' },
});

export type CliOptions = Resolved<typeof CLI_SETTINGS>;

export const DEFAULT_LOCATION = bucket.default as string;

/** The CLI's settings from `flags` and `env`; a refused value is a UsageError (exit 2) naming the flag or variable, the value and the range. */
export function resolveCliOptions(flags: OptionValues, env: NodeJS.ProcessEnv): CliOptions {
  try {
    return resolveSettings('cli', CLI_SETTINGS, { env, flags });
  } catch (err) {
    if (hasCode(err, 'HG_CONFIG_INVALID')) throw new UsageError(err.message.replace(/^cli configuration: /, ''));
    throw err;
  }
}
