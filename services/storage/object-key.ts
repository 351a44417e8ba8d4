// Validation of object keys, shared by both storage backends so they refuse exactly the same keys.
import { HourglassError } from '../errors/catalogue.ts';

/** Throws HG_STORAGE_BAD_KEY unless `key` is a relative, normalised object key. */
export function assertObjectKey(key: string): void {
  const bad = (why: string): never => {
    throw new HourglassError('HG_STORAGE_BAD_KEY', `invalid object key ${JSON.stringify(key)}: ${why}`);
  };
  if (key.length === 0) bad('empty');
  if (key.length > 1024) bad('longer than 1024 characters');
  if (key.startsWith('/') || key.endsWith('/')) bad('must not start or end with "/"');
  for (const part of key.split('/')) {
    if (part === '' || part === '.' || part === '..') bad('empty, "." or ".." path segment');
    if (part.startsWith('.hourglass-')) bad('names starting with ".hourglass-" are reserved');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) bad('control characters');
}
