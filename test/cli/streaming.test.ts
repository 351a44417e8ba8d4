// cat's building blocks stream: the container reader fetches bounded ranges (never the whole object), and the output sink waits for 'drain'.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ContainerReader } from '../../services/wire/container-reader.ts';
import { OutputSink } from '../../services/cli/output-sink.ts';
import { RecordDecoder, toJsonLine } from '../../services/wire/record-decoder.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import type { Storage } from '../../services/storage/storage.ts';
import { ContainerWriter } from '../../services/wire/avro-container.ts';
import { compressBlock } from '../../services/wire/codecs.ts';
import { runWithDeadline } from '../helpers/bounded-worker.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A storage that records every ranged read and refuses whole-object reads. */
function rangeOnly(inner: Storage, ranges: number[]): Storage {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'get') return () => Promise.reject(new Error('get() would load the whole object'));
      if (prop === 'getRange') return (key: string, start: number, end: number) => (ranges.push(end - start), target.getRange(key, start, end));
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('streaming a part file', () => {
  it('reads a multi-block file in bounded ranges, hashing every byte once, and decodes what was written', async () => {
    const registry = await Registry.load();
    const version = registry.require('track_played').latest;
    const writer = new ContainerWriter({ schemaJson: version.deliveredSchemaJson, codec: 'deflate' });
    const written: unknown[] = [];
    for (let b = 0; b < 60; b++) {
      const records = Array.from({ length: 200 }, (_, i) => ({ event_id: `e-${b}-${i}`, receive_time: 1_790_000_000_000_000 + b * 1000 + i, publisher: 'p1', seq: b * 200 + i, ...trackPlayed(b * 200 + i) }));
      written.push(...records);
      writer.appendBlock(records.length, compressBlock('deflate', Buffer.concat(records.map((r) => version.deliveredType.toBuffer(r)))));
    }
    const file = writer.toBuffer();
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-cli-stream-'));
    await storage.put('t/part-00000.avro', file);

    const ranges: number[] = [];
    const hash = createHash('sha256');
    const chunkBytes = 16 * 1024;
    const reader = await ContainerReader.open(rangeOnly(storage, ranges), 't/part-00000.avro', file.length, { chunkBytes, onBytes: (c) => hash.update(c) });
    const decoder = new RecordDecoder(reader.header.schemaJson, reader.header.codec);
    const read: unknown[] = [];
    for await (const block of reader.blocks()) read.push(...decoder.decodeBlock(block.body, block.count));

    assert.equal(hash.digest('hex'), createHash('sha256').update(file).digest('hex'), 'every byte passed to onBytes exactly once, in order');
    assert.ok(file.length > 20 * chunkBytes, `the file (${file.length} bytes) spans many chunks`);
    assert.ok(Math.max(...ranges) <= chunkBytes * 2, `no read much larger than a chunk (largest ${Math.max(...ranges)})`);
    assert.equal(read.length, written.length);
    assert.deepEqual(JSON.parse(toJsonLine(read[123])), JSON.parse(JSON.stringify(written[123])));
  });

  it('names the byte offset of a damaged frame', async () => {
    const registry = await Registry.load();
    const version = registry.require('search_performed').latest;
    const writer = new ContainerWriter({ schemaJson: version.deliveredSchemaJson, codec: 'null' });
    for (let b = 0; b < 3; b++) writer.appendBlock(1, version.deliveredType.toBuffer({ event_id: 'x', receive_time: 1, publisher: 'p', seq: b, user_id: 'u', query: 'q', input: 'TYPED', results_count: 1, latency_ms: 2, clicked_position: null, market: 'SE' }));
    const file = writer.toBuffer();
    file[file.length - 3]! ^= 0xff; // inside the last sync marker
    const storage = await LocalDirectoryStorage.open(await tempDir('hg-cli-stream-'));
    await storage.put('t/part.avro', file);
    const reader = await ContainerReader.open(storage, 't/part.avro', file.length);
    await assert.rejects(async () => {
      for await (const _ of reader.blocks());
    }, /sync marker does not match the header at byte \d+/);
  });
});

describe('ContainerReader options', () => {
  it('refuses a chunk size below 1 byte, from which its header reads would never grow (they looped forever)', async () => {
    const run = (chunkBytes: number) =>
      runWithDeadline<string>({ module: new URL('./container-reader-cases.ts', import.meta.url), exportName: 'openWithChunkBytes', args: [chunkBytes], deadlineMs: 30_000 });
    assert.equal(await run(0), 'RangeError');
    assert.equal(await run(-1), 'RangeError');
    assert.equal(await run(1), 'opened');
  });
});

describe('OutputSink', () => {
  it('waits for drain instead of piling output into the stream buffer', async () => {
    let maxBuffered = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, done) {
        setImmediate(done);
      },
    });
    const sink = new OutputSink(slow);
    const chunk = 'x'.repeat(700);
    for (let i = 0; i < 200; i++) {
      await sink.write(chunk);
      maxBuffered = Math.max(maxBuffered, slow.writableLength);
    }
    assert.ok(maxBuffered <= 1024 + chunk.length, `buffered at most one chunk past the high-water mark (saw ${maxBuffered})`);
  });

  it('stops quietly when the reader goes away (EPIPE)', async () => {
    const closed = new Writable({
      write(_chunk, _enc, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const sink = new OutputSink(closed);
    await sink.write('a\n');
    await new Promise((r) => setImmediate(r));
    assert.equal(sink.closed, true);
    await sink.write('b\n'); // no throw
  });
});


