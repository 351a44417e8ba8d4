// The checker's memory budget: types' closes run at once when their staged bytes fit HOURGLASS_CHECKER_PARTS_IN_MEMORY parts, and take turns when each needs the whole budget.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { closingRoot } from '../../services/checker/window-closer.ts';
import { Registry } from '../../services/registry/registry.ts';
import { ForwardingStorage } from '../../services/storage/forwarding-storage.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TYPES = ['search_performed', 'track_played', 'ui_interaction'];
const index = windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S);

/** Holds every write into a closing attempt a little (so closes that may overlap do), and records which types' closes were writing at once. */
class ClosingWrites extends ForwardingStorage {
  readonly #inFlight = new Map<string, number>();
  mostTypesAtOnce = 0;

  override async createOnly(key: string, data: Uint8Array | string): Promise<void> {
    const type = TYPES.find((t) => key.startsWith(closingRoot({ type: t, index, lengthS: STAGED_WINDOW_S })));
    if (!type) return super.createOnly(key, data);
    this.#inFlight.set(type, (this.#inFlight.get(type) ?? 0) + 1);
    this.mostTypesAtOnce = Math.max(this.mostTypesAtOnce, [...this.#inFlight.values()].filter((n) => n > 0).length);
    try {
      await sleep(20);
      return await super.createOnly(key, data);
    } finally {
      this.#inFlight.set(type, this.#inFlight.get(type)! - 1);
    }
  }
}

async function closeThreeTypes(partsInMemory: number): Promise<number> {
  const registry = await Registry.load();
  const local = await LocalDirectoryStorage.open(await tempDir());
  await stageMessages(local, registry, TYPES.map((type) => ({ type, publisher: 'pub-a', firstSeq: 0, count: 20 })));
  const storage = new ClosingWrites(local);
  // Past the max wait: every window closes in the first round. A part of 1 byte: each close reserves the whole of a 1-part budget.
  const nowMs = windowEndUs(index, STAGED_WINDOW_S) / 1000 + 120_000;
  const checker = new Checker({
    registry,
    storage,
    options: resolveCheckerOptions({}, { location: local.location, windowS: STAGED_WINDOW_S, checkerId: 'test', maxWaitMs: 60_000, maxPartBytes: 1, partsInMemory }),
    clock: { nowUs: () => nowMs * 1000 },
  });
  await checker.tick();
  assert.deepEqual(checker.errors, []);
  for (const type of TYPES) assert.ok(await local.stat(layout.closed({ type, index, lengthS: STAGED_WINDOW_S }) + layout.successName), `${type} closed`);
  return storage.mostTypesAtOnce;
}

describe('closes within the memory budget', () => {
  it('a budget of one part, each close needing a part: one type closes at a time', async () => {
    assert.equal(await closeThreeTypes(1), 1);
  });

  it('a budget of three parts: the three types close at once (typesInParallel, 64 by default)', async () => {
    assert.equal(await closeThreeTypes(3), 3);
  });
});
