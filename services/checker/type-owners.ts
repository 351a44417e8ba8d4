// Which checker replica owns which event type: rendezvous hashing over the live replicas, so replicas share the types and a replica that joins or leaves moves only its own share.
//
// Every replica computes the same owner for a type from the same set of live replicas (highest random
// weight: the replica with the largest hash of "<replica>/<type>"), with no coordinator and nothing to
// write. The set is what the bucket already holds: the replicas whose heartbeat snapshot is fresh and not
// final (heartbeat-table.ts), plus the replica asking, which always counts itself. Views differ only while a
// snapshot turns fresh or stale, so a dead replica's types move to the others within the snapshot freshness
// (5 s) plus one round, and a replica that stops cleanly hands them over at the next round. While views
// differ a type can have two owners, which is safe: a window's close is create-only (one manifest wins) and
// idempotent after its commit, as it always was with every replica closing everything.
import { createHash } from 'node:crypto';

/** The weight of `replica` for `type`: the first 6 bytes of SHA-256("<replica>/<type>"), a whole number below 2^48. */
function weight(replica: string, type: string): number {
  return createHash('sha256').update(`${replica}/${type}`).digest().readUIntBE(0, 6);
}

/** The owner of `type` among `replicas` (non-empty): the largest weight, ties to the smallest id. */
export function ownerOf(type: string, replicas: readonly string[]): string {
  let best: string | undefined;
  let bestWeight = -1;
  for (const r of replicas) {
    const w = weight(r, type);
    if (w > bestWeight || (w === bestWeight && best !== undefined && r < best)) {
      best = r;
      bestWeight = w;
    }
  }
  if (best === undefined) throw new Error('ownerOf: no replica');
  return best;
}

/** The types of `types` that `self` owns, given the other live replicas (self is always counted live). */
export function ownedTypes(types: readonly string[], self: string, live: readonly string[]): Set<string> {
  const replicas = [...new Set([self, ...live])];
  return new Set(types.filter((t) => ownerOf(t, replicas) === self));
}
