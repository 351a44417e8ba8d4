// The status console's configuration schema (services/config): its variables, defaults and ranges, resolved and checked once at start-up.
import { anyText, integer } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';
import { bucket, gcsEndpoint, project, schemasDir, windowS } from '../config/shared-settings.ts';

export const CONSOLE_SETTINGS = settings({
  location: bucket,
  gcsEndpoint,
  projectId: project,
  port: setting<number>({
    doc: 'Port of the status page; 0 picks a free one. On Cloud Run, its PORT.',
    kind: integer(0, 65_535),
    env: ['HOURGLASS_CONSOLE_PORT', 'PORT'],
    default: 8081,
  }),
  host: setting<string>({
    doc: 'Address the status page listens on.',
    kind: anyText('an address'),
    env: ['HOURGLASS_CONSOLE_HOST'],
    default: '127.0.0.1',
  }),
  windowS: { ...windowS, doc: 'Window length, until a checker status says otherwise.' },
  schemasDir,
});

export type ConsoleProcessOptions = Resolved<typeof CONSOLE_SETTINGS>;

/** Resolves the console's settings from `env`; throws HG_CONFIG_INVALID listing every problem. */
export function resolveConsoleOptions(env: Readonly<Record<string, string | undefined>>): ConsoleProcessOptions {
  return resolveSettings('console', CONSOLE_SETTINGS, { env });
}
