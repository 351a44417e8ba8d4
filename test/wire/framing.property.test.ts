// Property-based tests of the wire framing: varints, block prefixes, container files, codecs. See framing.properties.ts; each runs in a worker with a deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWithDeadline } from '../helpers/bounded-worker.ts';

const PROPERTIES = new URL('./framing.properties.ts', import.meta.url);
const DEADLINE_MS = 120_000;
const run = <T>(exportName: string, numRuns: number) => runWithDeadline<T>({ module: PROPERTIES, exportName, args: [numRuns], deadlineMs: DEADLINE_MS });

describe('wire framing (property-based; fastavro and the spec as independent references)', () => {
  it('varints: every safe integer, extremes included, byte for byte as the spec and fastavro write it, and read back', async () => {
    assert.ok((await run<number>('varintsRoundTrip', 40)) > 100);
  });

  it('varints from any bytes: read as fastavro reads them, or refused with CorruptContainerError', async () => {
    assert.ok((await run<number>('varintsFromAnyBytes', 40)) > 100, 'many inputs were valid varints');
  });

  it('block prefixes: any count and size a safe integer holds', async () => {
    await run('blockPrefixesRoundTrip', 300);
  });

  it('container files (any codec, metadata, blocks, strings to 200 KB): our parser and fastavro read back header, blocks and records', async () => {
    assert.ok((await run<number>('containersRoundTrip', 40)) > 40);
  });

  it('damaged container files: parsed whole or refused with CorruptContainerError, never another error', async () => {
    assert.ok((await run<number>('damagedContainers', 300)) > 100, 'most damage is detected');
  });

  it('codecs: data to 2 MB round-trips, Python decompresses the same bytes, the cap holds, damage is CorruptBlockError', async () => {
    assert.ok((await run<number>('codecsRoundTrip', 40)) > 1_000_000);
  });
});
