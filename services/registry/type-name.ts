// The one rule for event-type names: they become topic names and storage paths, so only a safe alphabet passes.
import { HourglassError } from '../errors/catalogue.ts';

export const TYPE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** True when `name` may name an event type. */
export function isValidTypeName(name: string): boolean {
  return TYPE_NAME_PATTERN.test(name);
}

/** Throws HG_REGISTRY_BAD_NAME unless `name` may name an event type. */
export function assertValidTypeName(name: string, where: string): void {
  if (!isValidTypeName(name)) {
    throw new HourglassError(
      'HG_REGISTRY_BAD_NAME',
      `${where}: "${name}" is not a valid event type name (must match ${TYPE_NAME_PATTERN.source}: lowercase letter first, then up to 62 lowercase letters, digits or underscores)`,
    );
  }
}
