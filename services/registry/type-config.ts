// The per-type settings in schemas/<type>/type.json: who owns the type, its tier, and how long closing may wait.
import { HourglassError } from '../errors/catalogue.ts';

export type Tier = 'high' | 'normal' | 'low';
export const TIERS: readonly Tier[] = ['high', 'normal', 'low'];

export interface TypeConfig {
  /** Team or address that answers for this type's data. */
  readonly owner: string;
  /** high: royalty-bearing, no loss tolerated; normal; low: analytics only. */
  readonly tier: Tier;
  /** A publisher silent this long (ms) is declared dead, and windows stop waiting for it. */
  readonly livenessTimeoutMs: number;
  /** A window whose gaps have not filled this long (ms) after it ended closes as incomplete. */
  readonly maxWaitMs: number;
  readonly description: string;
  /** The type's closed hours are also committed to an Apache Iceberg table (services/table); off unless type.json says "table": true. */
  readonly table: boolean;
}

const KNOWN_KEYS = new Set(['owner', 'tier', 'livenessTimeoutS', 'maxWaitS', 'description', 'table']);

/** Validates the parsed contents of a type.json; every fault names the file and the key. */
export function parseTypeConfig(raw: unknown, file: string): TypeConfig {
  const fail = (what: string): never => {
    throw new HourglassError('HG_REGISTRY_BAD_FILE', `${file}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('must be a JSON object');
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!KNOWN_KEYS.has(key)) fail(`unknown key "${key}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const owner = obj.owner;
  if (typeof owner !== 'string' || owner.trim() === '') fail('"owner" must be a non-empty string');
  const tier = obj.tier;
  if (typeof tier !== 'string' || !(TIERS as readonly string[]).includes(tier)) fail(`"tier" must be one of ${TIERS.join(', ')}`);
  const seconds = (key: string): number => {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`"${key}" must be a positive number of seconds`);
    return v as number;
  };
  const livenessTimeoutS = seconds('livenessTimeoutS');
  const maxWaitS = seconds('maxWaitS');
  if (maxWaitS < livenessTimeoutS) fail(`"maxWaitS" (${maxWaitS}) must be at least "livenessTimeoutS" (${livenessTimeoutS})`);
  const description = obj.description ?? '';
  if (typeof description !== 'string') fail('"description" must be a string');
  const table = obj.table ?? false;
  if (typeof table !== 'boolean') fail('"table" must be true or false');
  return {
    owner: owner as string,
    tier: tier as Tier,
    livenessTimeoutMs: livenessTimeoutS * 1000,
    maxWaitMs: maxWaitS * 1000,
    description: description as string,
    table: table as boolean,
  };
}
