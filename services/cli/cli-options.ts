// The CLI's global settings, resolved once: the flag, then the environment, then the default.
import { assertWindowLength } from '../wire/window.ts';
import type { OptionValues } from './args.ts';
import { UsageError } from './cli-error.ts';

export interface CliOptions {
  /** The bucket: file:///path, a plain path, or gs://bucket/prefix. Flag --location/-l, env HOURGLASS_BUCKET. Default: file://./.hourglass-data */
  readonly location: string;
  /** GCS API endpoint (fake-gcs-server). Flag --gcs-endpoint, env HOURGLASS_GCS_ENDPOINT. */
  readonly gcsEndpoint: string | undefined;
  /** Window length (s), to find a window from <hour>. Flag --window-s, env HOURGLASS_WINDOW_S. Default: 3600. */
  readonly windowS: number;
  /** Schemas folder of the registry. Env HOURGLASS_SCHEMAS_DIR (`schemas check --dir` overrides). Default: the shipped schemas/. */
  readonly schemasDir: string | undefined;
  /** Google Cloud project for publish and redrive. Flag --project, env HOURGLASS_PROJECT or GOOGLE_CLOUD_PROJECT. Default: hourglass-local. */
  readonly project: string;
  /** Topic prefix for publish and redrive. Flag --topic-prefix, env HOURGLASS_TOPIC_PREFIX. Default: hourglass-. */
  readonly topicPrefix: string | undefined;
}

export const DEFAULT_LOCATION = 'file://./.hourglass-data';

export function resolveCliOptions(flags: OptionValues, env: NodeJS.ProcessEnv): CliOptions {
  const rawWindow = flags['window-s'] ?? (env.HOURGLASS_WINDOW_S || undefined);
  let windowS = 3600;
  if (rawWindow !== undefined) {
    windowS = Number(rawWindow);
    try {
      if (!/^\d+$/.test(rawWindow)) throw new Error(`window length ${JSON.stringify(rawWindow)} is not a whole number of seconds`);
      assertWindowLength(windowS);
    } catch (err) {
      throw new UsageError(`--window-s: ${(err as Error).message}`);
    }
  }
  return {
    location: flags.location ?? (env.HOURGLASS_BUCKET || DEFAULT_LOCATION),
    gcsEndpoint: flags['gcs-endpoint'] ?? (env.HOURGLASS_GCS_ENDPOINT || undefined),
    windowS,
    schemasDir: env.HOURGLASS_SCHEMAS_DIR || undefined,
    project: flags.project ?? (env.HOURGLASS_PROJECT || env.GOOGLE_CLOUD_PROJECT || 'hourglass-local'),
    topicPrefix: flags['topic-prefix'] ?? (env.HOURGLASS_TOPIC_PREFIX || undefined),
  };
}
