// compactWindow alone, on staged files a real Worker wrote from SDK-encoded 1000-event messages: events per CPU-second on the fast path (blocks copied whole) and the slow path (every record decoded and re-encoded, as for an older schema version).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StagingIndex } from '../../services/checker/staging-index.ts';
import { compactWindow } from '../../services/checker/window-compactor.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { windowOf } from '../../services/wire/window.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import { BASE_RECEIVE_US, buildBatch, FakeSource, fakeInbound } from '../../test/fixtures/worker-messages.ts';
import { median } from '../kit/stats.ts';

/** compactWindow over staged files a real Worker wrote, fast path and slow path: events per CPU-second (median of rounds). */
export async function compactThroughput(registry: Registry, messages: number, rounds: number): Promise<{ fast: number; slow: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-compact-'));
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    const stage = async (version: number) => {
      const source = new FakeSource();
      const worker = new Worker(resolveWorkerOptions({}, { workerId: `bench-v${version}`, maxFileAgeMs: 3_600_000, maxFileBytes: 8 * 1024 * 1024 }), {
        registry,
        storage,
        source,
        clock: { nowUs: () => BASE_RECEIVE_US + 1 },
      });
      worker.start();
      for (let m = 0; m < messages; m++) {
        const b = buildBatch(registry, { version, publisher: `pub-v${version}-${m % 4}`, firstSeq: Math.floor(m / 4) * 1000, count: 1000, receiveUs: BASE_RECEIVE_US + m * 1000 });
        source.deliver(fakeInbound(b.data, b.attributes, 'track_played'));
      }
      await worker.flush();
      await worker.stop();
    };
    await stage(2);
    await stage(1);
    const window = windowOf(BASE_RECEIVE_US, 3600);
    const staged = (await new StagingIndex(storage, 3600).windows('track_played')).get(window)!.staged;
    const v2 = staged.filter((m) => m.manifest.version === 2);
    const v1 = staged.filter((m) => m.manifest.version === 1);
    const measure = async (manifests: typeof staged, label: string): Promise<number> => {
      const cpu = process.cpuUsage();
      const result = await compactWindow(storage, registry, manifests, {
        type: 'track_played',
        window,
        outPrefix: `bench-out/${label}/`,
        namePrefix: 'part',
        maxPartBytes: 256 * 1024 * 1024,
        codec: 'deflate',
        schemaVersion: 2,
      });
      const used = process.cpuUsage(cpu);
      for (const f of result.files) await storage.delete(f.key);
      if (result.events !== messages * 1000) throw new Error(`compaction wrote ${result.events} events, expected ${messages * 1000}`);
      return result.events / ((used.user + used.system) / 1e6);
    };
    await measure(v2, 'warm'); // warm-up: compile, JIT, page cache
    const fast: number[] = [];
    const slow: number[] = [];
    for (let r = 0; r < rounds; r++) {
      fast.push(await measure(v2, `fast-${r}`));
      slow.push(await measure(v1, `slow-${r}`));
    }
    return { fast: median(fast), slow: median(slow) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
