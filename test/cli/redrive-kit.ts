// Test helpers for `hourglass-events redrive`: a tap on a topic (what a redrive published), where events landed (closed windows and the late area, read by fastavro), and waiting for the checker to settle.
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { layout } from '../../services/storage/layout.ts';
import { drainSubscription, type DrainedMessage } from '../helpers/drain-subscription.ts';
import { readWithFastavro, type PipelineKit, type PipelineStorage, type ReadRecord } from '../helpers/pipeline-kit.ts';

/** A subscription on a type's topic that sees every message published to it from now on. */
export async function tapTopic(kit: PipelineKit, type: string, name: string): Promise<{ drain(quietMs?: number): Promise<DrainedMessage[]> }> {
  await kit.stack.client.topic(kit.stack.names.eventTopic(type)).createSubscription(name);
  return { drain: (quietMs = 1500) => drainSubscription(kit.stack.client, name, { quietMs }) };
}

/** A message as a comparable string: its data and its attributes, in key order. */
export function messageKey(data: Buffer, attributes: Readonly<Record<string, string>>): string {
  return JSON.stringify([data.toString('base64'), Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b))]);
}

/** Every record of `type` in closed windows (their manifests' part files) and in the late area (its manifests' files), read with fastavro. */
export async function landedRecords(storage: PipelineStorage, type: string): Promise<{ closed: ReadRecord[]; late: ReadRecord[] }> {
  const manifests = (await storage.list(layout.closedType(type))).filter((o) => o.key.endsWith(`/${layout.manifestName}`));
  const closedFiles: string[] = [];
  for (const o of manifests) {
    const dir = o.key.slice(0, -layout.manifestName.length);
    if (!(await storage.stat(dir + layout.successName))) continue;
    const m = JSON.parse((await storage.get(o.key)).toString('utf8')) as ClosedManifest;
    closedFiles.push(...m.files.map((f) => path.join(storage.root, dir + f.name)));
  }
  const lateFiles: string[] = [];
  for (const o of (await storage.list(`late/${type}/`)).filter((x) => /\/late-[^/]*\.manifest\.json$/.test(x.key))) {
    const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
    const m = JSON.parse((await storage.get(o.key)).toString('utf8')) as { files: Array<{ name: string }> };
    lateFiles.push(...m.files.map((f) => path.join(storage.root, dir + f.name)));
  }
  return { closed: await readWithFastavro(closedFiles), late: await readWithFastavro(lateFiles) };
}

/** How many times each seq of `publisher` landed, closed and late together. */
export async function landedSeqs(storage: PipelineStorage, type: string, publisher: string): Promise<Map<number, number>> {
  const { closed, late } = await landedRecords(storage, type);
  const counts = new Map<number, number>();
  for (const r of [...closed, ...late]) if (r.publisher === publisher) counts.set(r.seq, (counts.get(r.seq) ?? 0) + 1);
  return counts;
}

/** Waits until every seq below `total` of `publisher` has landed and the type's staging area is empty (the checker has closed or moved everything staged). */
export async function waitForLanded(kit: PipelineKit, type: string, publisher: string, total: number, timeoutMs = 120_000): Promise<Map<number, number>> {
  let counts = new Map<number, number>();
  await waitUntil(
    `${total} events of ${type} from ${publisher} landed and staging empty`,
    async () => {
      if ((await kit.storage.list(layout.stagingType(type))).length > 0) return false;
      counts = await landedSeqs(kit.storage, type, publisher);
      return counts.size === total;
    },
    timeoutMs,
    500,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; landed ${counts.size} distinct seqs\n${kit.diagnose(type)}`);
  });
  return counts;
}

/** Asserts every seq in [0, total) landed exactly once. */
export function assertExactlyOnce(counts: ReadonlyMap<number, number>, total: number): void {
  const missing = Array.from({ length: total }, (_, s) => s).filter((s) => !counts.has(s));
  const twice = [...counts].filter(([, n]) => n !== 1).map(([s, n]) => `${s}×${n}`);
  assert.deepEqual({ missing, twice }, { missing: [], twice: [] }, 'every event lands exactly once');
  assert.equal(counts.size, total);
}
