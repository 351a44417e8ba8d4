// The gateway's OpenAPI document (openapi.yaml beside this file), read and parsed once, for GET /openapi.json and the tests that check the gateway against it.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** Where the document lives: next to this module, so it travels with the code it describes. */
export const OPENAPI_DOCUMENT_PATH = new URL('./openapi.yaml', import.meta.url);

let cached: Record<string, unknown> | undefined;

/**
 * The OpenAPI 3.1 document of the gateway's public port, parsed from openapi.yaml on first use and
 * cached (the same object every call: treat it as read-only). Throws if the file is missing or is
 * not a YAML mapping with an `openapi` field.
 */
export function loadOpenApiDocument(): Record<string, unknown> {
  if (cached === undefined) {
    const parsed: unknown = parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as { openapi?: unknown }).openapi !== 'string') {
      throw new Error(`${OPENAPI_DOCUMENT_PATH.pathname} is not an OpenAPI document (a YAML mapping with an "openapi" field)`);
    }
    cached = deepFreeze(parsed as Record<string, unknown>);
  }
  return cached;
}

/** Freezes a parsed document all the way down, so no caller can change what the next one is served. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
