// Fault injection of the chaos suite (storage writes that fail), off unless set: settings every service that writes the bucket accepts.
import { integer, numberIn, oneOf } from './setting-kinds.ts';
import { setting } from './settings.ts';

export const faultSettings = {
  faultStorageFailRate: setting<number | undefined>({
    doc: 'Chaos runs only: the fraction of storage writes that fail. Unset or 0: off.',
    kind: numberIn(0, 1),
    env: ['HOURGLASS_FAULTS_STORAGE_FAIL_RATE'],
    defaultText: 'off',
  }),
  faultStorageFailMode: setting<'before' | 'after' | 'mixed'>({
    doc: 'Chaos runs only: whether a failed write fails before it lands, after (the write is durable, the caller is told it failed), or either.',
    kind: oneOf(['before', 'after', 'mixed']),
    env: ['HOURGLASS_FAULTS_STORAGE_FAIL_MODE'],
    default: 'mixed',
  }),
  faultStorageSeed: setting<number | undefined>({
    doc: 'Chaos runs only: seed of the failure draws, so a run replays exactly. Unset: unseeded.',
    kind: integer(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    env: ['HOURGLASS_FAULTS_STORAGE_SEED'],
    defaultText: 'unseeded',
  }),
};
