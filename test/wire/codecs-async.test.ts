// compressBlockAsync (thread-pool compression for publishers) round-trips through decompressBlock for every codec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CODEC_NAMES, compressBlock, compressBlockAsync, decompressBlock } from '../../services/wire/codecs.ts';

describe('compressBlockAsync', () => {
  const data = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) % 251));
  for (const codec of CODEC_NAMES) {
    it(`${codec}: decompresses to the input, as the synchronous version does`, async () => {
      const compressed = await compressBlockAsync(codec, data);
      assert.deepEqual(decompressBlock(codec, compressed), data);
      assert.deepEqual(decompressBlock(codec, compressBlock(codec, data)), data);
    });
  }
});
