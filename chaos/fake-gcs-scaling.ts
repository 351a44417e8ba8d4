// How fake-gcs-server's two backends scale with the objects a bucket holds: the reproduction behind the chaos suite's choice of its filesystem backend.
//
// Run: node chaos/fake-gcs-scaling.ts [--backend memory|filesystem] [--objects 1000,5000,10000,20000]
// Fills one bucket with small objects, 16 creates in flight, and after each step prints the mean time per
// create over that step, one listing of an empty prefix and one stat. Seen here (fake-gcs-server 1.56.1,
// docs/design.md "Cloud Storage semantics"): memory 4.4 ms a create at 1,000 objects, 15.7 at 5,000,
// 38.8 at 10,000 (each create scans the bucket's object list under one lock); filesystem ~4 ms at every
// size up to 20,000, its listing 14-100 ms. A chaos run keeps thousands of objects: on the memory backend
// its calls began to time out at 10 s, which is the emulator's limit, not hourglass's.
import { parseArgs } from 'node:util';
import { startFakeGcsServer } from '../services/local-stack/fake-gcs-server.ts';
import { openStorage } from '../services/storage/open-storage.ts';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'memory' }, objects: { type: 'string', default: '1000,5000,10000,20000' } } });
const backend = values.backend === 'filesystem' ? 'filesystem' : 'memory';
const steps = values.objects!.split(',').map(Number);
const server = await startFakeGcsServer({ backend });
await server.createBucket('scaling');
const storage = await openStorage('gs://scaling', { gcsEndpoint: server.endpoint });
try {
  let n = 0;
  for (const total of steps) {
    const from = n;
    const t0 = performance.now();
    while (n < total) {
      await Promise.all(Array.from({ length: 16 }, (_, k) => storage.createOnly(`fill/object-${n + k}`, 'abc')));
      n += 16;
    }
    const createMs = (performance.now() - t0) / (n - from);
    const t1 = performance.now();
    await storage.list('staging/');
    const listMs = performance.now() - t1;
    const t2 = performance.now();
    await storage.stat('fill/object-5');
    const statMs = performance.now() - t2;
    process.stdout.write(`${JSON.stringify({ backend, objects: n, createMsEach: +createMs.toFixed(2), listEmptyPrefixMs: +listMs.toFixed(1), statMs: +statMs.toFixed(1) })}\n`);
  }
} finally {
  await storage.close();
  await server.stop();
}
