// Schemas and values shared by the wire-format tests: a realistic event, a schema using every Avro type, and a recursive one.
import avro from 'avsc';

export const PLATFORMS = ['ANDROID', 'IOS', 'WEB', 'DESKTOP', 'TV'] as const;

/** A music service's "track played" event: ~100 bytes of strings, longs, an enum, a union and a boolean. */
export const TRACK_PLAYED_SCHEMA = {
  type: 'record',
  name: 'TrackPlayed',
  namespace: 'hourglass',
  fields: [
    { name: 'user_id', type: 'string' },
    { name: 'track_id', type: 'string' },
    { name: 'ms_played', type: 'long' },
    { name: 'platform', type: { type: 'enum', name: 'Platform', symbols: [...PLATFORMS] } },
    { name: 'context', type: ['null', 'string'], default: null },
    { name: 'offline', type: 'boolean' },
    { name: 'played_at', type: { type: 'long', logicalType: 'timestamp-micros' } },
  ],
} as const;

export interface TrackPlayed {
  user_id: string;
  track_id: string;
  ms_played: number;
  platform: (typeof PLATFORMS)[number];
  context: string | null;
  offline: boolean;
  played_at: number;
}

export function trackPlayed(i: number): TrackPlayed {
  return {
    user_id: `3f2b8c9e-${(100000 + ((i * 7919) % 900000)).toString(16).padStart(8, '0')}-4a1d-9c3e-0242ac120002`,
    track_id: `spotify:track:${(i * 2654435761).toString(36).padStart(22, '0').slice(-22)}`,
    ms_played: (i * 7777) % 400_000,
    platform: PLATFORMS[i % PLATFORMS.length]!,
    context: i % 3 === 0 ? null : `playlist:37i9dQZF1DX${i % 1000}`,
    offline: i % 7 === 0,
    played_at: 1_700_000_000_000_000 + i * 1_234,
  };
}

export const trackPlayedType = avro.Type.forSchema(TRACK_PLAYED_SCHEMA as unknown as avro.Schema);

/** The Avro binary datums of `count` events, back to back: exactly a block body before compression. */
export function trackPlayedBody(count: number, first = 0): Buffer {
  const datums: Buffer[] = [];
  for (let i = first; i < first + count; i++) datums.push(trackPlayedType.toBuffer(trackPlayed(i)));
  return Buffer.concat(datums);
}

/**
 * Every Avro type at least once: primitives, fixed, enum, array, map, unions of several kinds,
 * nested records, references by short and full name across namespaces, and logical types.
 * Not recursive, so avsc's `random()` can generate values for it.
 */
export const EVERYTHING_SCHEMA = {
  type: 'record',
  name: 'Everything',
  namespace: 'hourglass.test',
  fields: [
    { name: 'nothing', type: 'null' },
    { name: 'flag', type: 'boolean' },
    { name: 'small', type: 'int' },
    { name: 'big', type: 'long' },
    { name: 'ratio', type: 'float' },
    { name: 'precise', type: 'double' },
    { name: 'raw', type: 'bytes' },
    { name: 'text', type: 'string' },
    { name: 'id', type: { type: 'fixed', name: 'Id16', size: 16 } },
    { name: 'platform', type: { type: 'enum', name: 'Platform', symbols: [...PLATFORMS] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'counters', type: { type: 'map', values: 'long' } },
    {
      name: 'choice',
      type: [
        'null',
        'long',
        'string',
        'Id16',
        { type: 'record', name: 'Point', fields: [{ name: 'x', type: 'double' }, { name: 'y', type: 'float' }] },
      ],
    },
    { name: 'points', type: { type: 'array', items: 'Point' } },
    { name: 'other_id', type: 'hourglass.test.Id16' },
    {
      name: 'elsewhere',
      type: {
        type: 'record',
        name: 'Elsewhere',
        namespace: 'other.ns',
        fields: [
          { name: 'platform', type: 'hourglass.test.Platform' },
          { name: 'local', type: { type: 'enum', name: 'Local', symbols: ['A', 'B'] } },
          { name: 'again', type: ['null', 'Local'] },
        ],
      },
    },
    { name: 'matrix', type: { type: 'array', items: { type: 'array', items: 'int' } } },
    { name: 'maybe_map', type: ['null', { type: 'map', values: ['null', 'boolean', 'double'] }] },
    { name: 'nulls', type: { type: 'array', items: 'null' } },
    { name: 'empty', type: { type: 'fixed', name: 'Empty', size: 0 } },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'price', type: { type: 'fixed', name: 'Price', size: 8, logicalType: 'decimal', precision: 18, scale: 4 } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'uuid', type: { type: 'string', logicalType: 'uuid' } },
  ],
} as const;

export const everythingType = avro.Type.forSchema(EVERYTHING_SCHEMA as unknown as avro.Schema);

/** A recursive named type: a tree whose children are trees, and an optional parent link. */
export const TREE_SCHEMA = {
  type: 'record',
  name: 'Tree',
  namespace: 'hourglass.test',
  fields: [
    { name: 'label', type: 'string' },
    { name: 'children', type: { type: 'array', items: 'Tree' } },
    { name: 'next', type: ['null', 'hourglass.test.Tree'], default: null },
  ],
} as const;

export interface Tree {
  label: string;
  children: Tree[];
  next: Tree | null;
}

export const treeType = avro.Type.forSchema(TREE_SCHEMA as unknown as avro.Schema);

/** A deterministic PRNG (mulberry32), so fuzz-style tests fail the same way every run. */
export { seededRandom } from '../../services/storage/seeded-random.ts';
