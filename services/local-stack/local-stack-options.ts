// The local stack's configuration schema (services/config): which emulator build and which fake-gcs-server binary the local run and the tests start.
import { anyText, oneOf } from '../config/setting-kinds.ts';
import { resolveSettings, setting, settings, type Resolved } from '../config/settings.ts';

export const LOCAL_STACK_SETTINGS = settings({
  pubsubEmulator: setting<'fixed' | 'stock'>({
    doc: "Which Pub/Sub emulator runs: 'fixed', the Cloud CLI's emulator with hourglass's fix of its stream leak (chaos/EMULATOR.md), or 'stock', as shipped.",
    kind: oneOf(['fixed', 'stock']),
    env: ['HOURGLASS_PUBSUB_EMULATOR'],
    default: 'fixed',
  }),
  fakeGcsServer: setting<string | undefined>({
    doc: 'Path of a fake-gcs-server binary. Unset: the build cached by scripts/setup.sh (or a fresh `go install`).',
    kind: anyText('a file path'),
    env: ['FAKE_GCS_SERVER'],
    defaultText: 'the cached build',
  }),
  java: setting<string>({
    doc: "The java (17 or later) that runs Apache Iceberg's REST catalog (the Iceberg tests, `npm start -- --tables`).",
    kind: anyText('a file path, or a command on PATH'),
    env: ['HOURGLASS_JAVA'],
    default: 'java',
  }),
});

/** The local stack's settings from `env` (the process's by default); throws HG_CONFIG_INVALID listing every problem. */
export function resolveLocalStackOptions(env: Readonly<Record<string, string | undefined>> = process.env): Resolved<typeof LOCAL_STACK_SETTINGS> {
  return resolveSettings('local stack', LOCAL_STACK_SETTINGS, { env });
}
