// Replicas sharing the types: every type has exactly one owner in a shared view, a replica leaving or joining moves only its own share, and a checker follows the live replicas it reads in the bucket (a peer's fresh snapshot takes a share; a stale or stopped one gives it back).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { heartbeatSnapshotKey, SNAPSHOT_FRESH_MS } from '../../services/checker/heartbeat-table.ts';
import { ownedTypes, ownerOf } from '../../services/checker/type-owners.ts';
import { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const typeNames = (n: number) => Array.from({ length: n }, (_, i) => `type_${i}`);
const replicaIds = fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 8 });

describe('type owners (rendezvous hashing)', () => {
  it('in one view, every type has exactly one owner, whatever the order the replicas are listed in', () => {
    fc.assert(
      fc.property(replicaIds, fc.integer({ min: 1, max: 300 }), (replicas, n) => {
        const types = typeNames(n);
        const counts = new Map<string, number>();
        for (const self of replicas) for (const t of ownedTypes(types, self, replicas)) counts.set(t, (counts.get(t) ?? 0) + 1);
        assert.equal(counts.size, types.length, 'no type owned by nobody');
        for (const [t, c] of counts) assert.equal(c, 1, `${t} has one owner`);
        for (const t of types) assert.equal(ownerOf(t, [...replicas].reverse()), ownerOf(t, replicas));
      }),
    );
  });

  it('a replica that leaves hands over only its own types, and one that joins takes only from the others what it now owns', () => {
    fc.assert(
      fc.property(replicaIds.filter((r) => r.length >= 2), fc.integer({ min: 1, max: 300 }), (replicas, n) => {
        const types = typeNames(n);
        const [gone, ...rest] = replicas;
        for (const t of types) {
          const before = ownerOf(t, replicas);
          const after = ownerOf(t, rest);
          if (before !== gone) assert.equal(after, before, `${t} stays with ${before} when ${gone} leaves`);
        }
      }),
    );
  });

  it('shares 500 types about evenly among 3 replicas', () => {
    const types = typeNames(500);
    const shares = ['checker-a', 'checker-b', 'checker-c'].map((self, _, all) => ownedTypes(types, self, all).size);
    assert.equal(shares.reduce((a, b) => a + b, 0), 500);
    for (const s of shares) assert.ok(s > 120 && s < 215, `a share of ${s} in ${shares.join(', ')}`);
  });
});

describe('a checker shares the types with the replicas it reads in the bucket', () => {
  it('a peer with a fresh snapshot takes its share; once its snapshot is stale, or says it stopped, the checker closes every type again', async () => {
    const registry = await Registry.load();
    const dir = await tempDir();
    const storage = await LocalDirectoryStorage.open(dir);
    let nowMs = Date.parse('2026-12-02T12:00:00Z');
    const all = registry.types().map((t) => t.name).sort();
    // Find a peer id that owns at least one shipped type against this checker (three types: most ids do).
    const self = 'checker-self';
    const peer = ['peer-1', 'peer-2', 'peer-3', 'peer-4', 'peer-5'].find((p) => ownedTypes(all, self, [p]).size < all.length)!;
    const snapshot = (savedMs: number, stopped = false) => storage.put(heartbeatSnapshotKey(peer), JSON.stringify({ savedMs, controlMs: null, ...(stopped ? { stopped } : {}), publishers: [] }));
    const seen: Array<{ owned: string[]; replicas: string[] }> = [];
    const checker = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: `file://${dir}`, windowS: 3600, checkerId: self, maxWaitMs: 3_600_000, shareTypes: true }),
      clock: { nowUs: () => nowMs * 1000 },
      onOwnership: (o) => seen.push(o),
    });

    await checker.tick();
    assert.deepEqual(checker.ownership(), { owned: all, replicas: [self] }, 'alone: every type');

    await snapshot(nowMs);
    await checker.tick();
    const mine = [...ownedTypes(all, self, [peer])].sort();
    assert.deepEqual(checker.ownership(), { owned: mine, replicas: [self, peer].sort() }, 'with a live peer: its share only');
    assert.ok(mine.length < all.length);

    nowMs += SNAPSHOT_FRESH_MS + 1; // the peer died: its snapshot goes stale
    await checker.tick();
    assert.deepEqual(checker.ownership().owned, all, 'the dead peer\'s share comes back within the freshness bound');

    await snapshot(nowMs);
    await checker.tick();
    assert.deepEqual(checker.ownership().owned, mine);
    await snapshot(nowMs, true); // the peer stopped cleanly
    await checker.tick();
    assert.deepEqual(checker.ownership().owned, all, 'a stopped peer hands over at once');
    assert.equal(seen.length, 5, 'told of each change, and only then');

    const alone = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: `file://${dir}`, windowS: 3600, checkerId: 'lone', maxWaitMs: 3_600_000, shareTypes: false }),
      clock: { nowUs: () => nowMs * 1000 },
    });
    await snapshot(nowMs);
    await alone.tick();
    assert.deepEqual(alone.ownership().owned, all, 'with sharing off, every type whatever the peers');
  });
});
