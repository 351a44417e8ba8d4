// `hourglass-events redrive` of worker dead letters, end to end: the Pub/Sub emulator, a real worker and checker, the CLI as a process.
//
// The fault whose cause gets fixed: a worker started with a registry that lacks track_played v2
// dead-letters every v2 message (unknown_version). Once a worker with the whole registry runs, redrive
// brings them back and every event lands exactly once (closed window or late area); a second redrive
// publishes nothing, and one after a crash between publish and marker publishes again what was not
// marked, which the checker de-duplicates. A message whose cause is not fixed (a corrupt block) is
// skipped with its reason.
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../../services/local-stack/wait-until.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { layout } from '../../services/storage/layout.ts';
import type { DeadLetterRecord } from '../../services/worker/dead-letter.ts';
import { resolveWorkerOptions } from '../../services/worker/worker-options.ts';
import { Worker } from '../../services/worker/worker.ts';
import { buildBatch } from '../fixtures/worker-messages.ts';
import type { DrainedMessage } from '../helpers/drain-subscription.ts';
import { startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertExactlyOnce, landedRecords, messageKey, tapTopic, waitForLanded } from './redrive-kit.ts';
import { runHourglass } from './run-hourglass.ts';

const TYPE = 'track_played';
const EVENTS = 150;

const kit = await startPipeline();
// The kit's worker knows every schema; this test's first worker must not.
await kit.worker.stop();
const oldSchemas = await tempDir('hg-redrive-schemas-');
await cp(kit.registry.dir, oldSchemas, { recursive: true });
await rm(path.join(oldSchemas, TYPE, 'v2.avsc'));
const oldWorker = new Worker(
  resolveWorkerOptions({}, { storageLocation: kit.storage.location, windowLengthS: WINDOW_S, maxFileAgeMs: 300, projectId: kit.stack.pubsub.projectId, workerId: 'worker-without-v2' }),
  { registry: await Registry.load(oldSchemas), storage: kit.storage, pubsub: kit.stack.client },
);
oldWorker.start();
after(() => oldWorker.stop());
kit.startChecker({ checkerId: 'checker-redrive' });

// Every third event in v1 (staged), the others in v2 (dead-lettered by the old worker).
const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 10 });
const pending: Array<Promise<void>> = [];
for (let i = 0; i < EVENTS; i++) {
  pending.push(publisher.publish(TYPE, trackPlayed(i, i % 3 !== 0), i % 3 === 0 ? { version: 1 } : {}));
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 700));
}
await Promise.all(pending);
await publisher.close();

// A message no redrive can fix: its block holds 5 records, its attributes say 6.
const corrupt = buildBatch(kit.registry, { type: TYPE, version: 1, publisher: 'pub-corrupt', count: 5, receiveUs: Date.now() * 1000, windowS: WINDOW_S });
await kit.stack.client.topic(kit.stack.names.eventTopic(TYPE)).publishMessage({ data: corrupt.data, attributes: { ...corrupt.attributes, count: '6' } });

/** The worker's dead letters of TYPE, by key. */
const deadLetters = async (): Promise<Map<string, DeadLetterRecord>> => {
  const out = new Map<string, DeadLetterRecord>();
  for (const o of await kit.storage.list(layout.deadletterType(TYPE))) {
    if (o.key.includes('/redriven/') || !o.key.endsWith('.json')) continue;
    out.set(o.key, JSON.parse((await kit.storage.get(o.key)).toString('utf8')) as DeadLetterRecord);
  }
  return out;
};
const eventsIn = (letters: Iterable<DeadLetterRecord>) => [...letters].reduce((n, d) => n + Number(d.attributes.count), 0);
await waitUntil(
  'every event staged or dead-lettered by the old worker',
  async () => {
    const letters = [...(await deadLetters()).values()];
    return oldWorker.stats().stagedEvents + eventsIn(letters.filter((d) => d.reason === 'unknown_version')) === EVENTS && letters.some((d) => d.reason === 'bad_records');
  },
  60_000,
);
await oldWorker.stop();
const letters = await deadLetters();
const fixable = [...letters].filter(([, d]) => d.reason === 'unknown_version');
const unfixable = [...letters].filter(([, d]) => d.reason === 'bad_records');
assert.equal(unfixable.length, 1);
assert.ok(fixable.length >= 5, `several v2 messages were dead-lettered (${fixable.length})`);

// The fix: a worker with the whole registry.
const worker = kit.restartWorker();
const tap = await tapTopic(kit, TYPE, 'redrive-tap');
const ENV = { HOURGLASS_BUCKET: kit.storage.location, HOURGLASS_WINDOW_S: String(WINDOW_S), PUBSUB_EMULATOR_HOST: kit.stack.pubsub.host, HOURGLASS_PROJECT: kit.stack.pubsub.projectId };
const hg = (args: string[], env: NodeJS.ProcessEnv = {}) => runHourglass(['redrive', ...args], { ...ENV, ...env }, 120_000);
/** What the --limit run published. */
const limited: DrainedMessage[] = [];
const markers = async () => (await kit.storage.list(layout.deadletterRedriven(TYPE))).map((o) => o.key);

describe('hourglass-events redrive of worker dead letters', () => {
  it('--dry-run counts what it would redrive and what it would skip, and publishes nothing', async () => {
    const r = await hg(['--type', TYPE, '--dry-run']);
    assert.equal(r.code, 1, 'a dead letter would be skipped');
    assert.match(r.stdout, /^dry run: nothing was published, marked or deleted$/m);
    assert.match(r.stdout, new RegExp(`^${TYPE}\\s+worker\\s+${fixable.length}\\s+0\\s+1\\s+0$`, 'm'));
    assert.match(r.stdout, new RegExp(`^  ${unfixable[0]![0].replaceAll('.', '\\.')}: bad_records: not 6 records of ${TYPE} v1`, 'm'));
    const json = JSON.parse((await hg(['--type', TYPE, '--dry-run', '--reason', 'unknown_version', '--json'])).stdout) as Record<string, unknown>;
    assert.deepEqual([json.redriven, json.already, json.skipped, json.failed, json.dryRun], [fixable.length, 0, 0, 0, true]);
    assert.deepEqual(await markers(), []);
    assert.equal((await tap.drain()).length, 0);
  });

  it('--limit takes the oldest dead letters not yet redriven, and stops there', async () => {
    const r = await hg(['--type', TYPE, '--reason', 'unknown_version', '--limit', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^stopped at --limit 2: more dead letters are selected; run again to go on$/m);
    assert.match(r.stdout, /^2 dead letter\(s\) redriven; 0 already redriven, 0 skipped, 0 failed$/m);
    assert.deepEqual((await markers()).sort(), fixable.slice(0, 2).map(([key]) => key.replace(`deadletter/${TYPE}/`, `deadletter/${TYPE}/redriven/`)).sort());
    limited.push(...(await tap.drain()));
    assert.equal(limited.length, 2);
  });

  it('republishes every fixed dead letter unchanged, once acknowledged marks it, and every event lands exactly once', async (t) => {
    const r = await hg(['--type', TYPE]);
    assert.equal(r.code, 1, `the corrupt one is skipped: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^${TYPE}\\s+worker\\s+${fixable.length - 2}\\s+2\\s+1\\s+0$`, 'm'));
    assert.match(r.stdout, /^skipped: the worker would dead-letter these again/m);
    assert.match(r.stdout, new RegExp(`^${fixable.length - 2} dead letter\\(s\\) redriven; 2 already redriven, 1 skipped, 0 failed$`, 'm'));
    const published = [...limited, ...(await tap.drain())];
    assert.deepEqual(published.map((m) => messageKey(m.data, m.attributes)).sort(), fixable.map(([, d]) => messageKey(Buffer.from(d.dataBase64, 'base64'), d.attributes)).sort(), 'the data and attributes of each dead letter, once');
    assert.deepEqual((await markers()).sort(), fixable.map(([key]) => key.replace(`deadletter/${TYPE}/`, `deadletter/${TYPE}/redriven/`)).sort());
    for (const [key] of letters) assert.ok(await kit.storage.stat(key), `${key} is kept for audit`);
    assertExactlyOnce(await waitForLanded(kit, TYPE, publisher.id, EVENTS), EVENTS);
    const { closed, late } = await landedRecords(kit.storage, TYPE);
    t.diagnostic(`events in closed windows: ${closed.filter((x) => x.publisher === publisher.id).length}, in the late area: ${late.filter((x) => x.publisher === publisher.id).length}`);
  });

  it('a second redrive publishes nothing', async () => {
    const r = await hg(['--type', TYPE, '--reason', 'unknown_version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^0 dead letter\\(s\\) redriven; ${fixable.length} already redriven, 0 skipped, 0 failed$`, 'm'));
    assert.equal((await tap.drain()).length, 0);
  });

  it('after a crash between publish and marker, the unmarked ones are published again and still land once', async () => {
    // A crash after Pub/Sub's ack and before the marker leaves exactly this: published, unmarked.
    const unmarked = fixable.slice(0, 3);
    for (const [key] of unmarked) await kit.storage.delete(key.replace(`deadletter/${TYPE}/`, `deadletter/${TYPE}/redriven/`));
    // A publish that fails (no such topic) marks nothing and stops the run.
    const refused = await hg(['--type', TYPE, '--reason', 'unknown_version', '--topic-prefix', 'no-such-prefix-']);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /^failed: not redriven; nothing is lost/m);
    assert.match(refused.stdout, /: publish_failed: not published to no-such-prefix-track_played: Pub\/Sub refused the message/m);
    assert.match(refused.stdout, /^stopped early: publish_failed: /m);
    assert.equal((await markers()).length, fixable.length - unmarked.length);
    const stagedBefore = worker.stats().stagedMessages;
    const r = await hg(['--type', TYPE, '--reason', 'unknown_version', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, number>;
    assert.deepEqual([json.redriven, json.already], [unmarked.length, fixable.length - unmarked.length]);
    assert.equal((await tap.drain()).length, unmarked.length);
    // The copies reach staging, and the checker drops them against what already landed.
    await waitUntil('the second copies staged', async () => worker.stats().stagedMessages >= stagedBefore + unmarked.length, 60_000);
    assertExactlyOnce(await waitForLanded(kit, TYPE, publisher.id, EVENTS), EVENTS);
    assert.equal((await markers()).length, fixable.length);
  });

  it('--force republishes what the worker refuses, which it dead-letters again (a new dead letter); --delete removes the old one once marked', async () => {
    const before = new Set(letters.keys());
    const r = await hg(['--type', TYPE, '--reason', 'bad_records', '--force', '--delete']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^1 dead letter\(s\) redriven; 0 already redriven, 0 skipped, 0 failed$/m);
    assert.equal((await tap.drain()).length, 1);
    await waitUntil('the forced message dead-lettered again', async () => [...(await deadLetters()).keys()].some((k) => !before.has(k)), 60_000);
    const marker = JSON.parse((await kit.storage.get(unfixable[0]![0].replace(`deadletter/${TYPE}/`, `deadletter/${TYPE}/redriven/`))).toString('utf8')) as { forced: boolean; reason: string };
    assert.deepEqual([marker.forced, marker.reason], [true, 'bad_records']);
    assert.equal(await kit.storage.stat(unfixable[0]![0]), undefined, 'deleted after its republish was acknowledged and marked');
    for (const [key] of fixable) assert.ok(await kit.storage.stat(key), 'what this run did not redrive is not deleted');
  });
});

describe('hourglass-events redrive with bad arguments', () => {
  const cases: Array<{ name: string; args: string[]; stderr: RegExp }> = [
    { name: 'an unknown source', args: ['--source', 'nowhere'], stderr: /--source must be worker, undeliverable or both, got "nowhere"/ },
    { name: 'an unknown reason', args: ['--reason', 'unknown_version,tired'], stderr: /--reason "tired" is not a dead-letter reason \(one of: bad_attributes, .*, undeliverable\)/ },
    { name: 'a malformed time', args: ['--since', 'yesterday'], stderr: /--since "yesterday": expected a UTC time/ },
    { name: 'a date that does not exist', args: ['--until', '2026-02-30T00:00:00Z'], stderr: /--until "2026-02-30T00:00:00Z": expected a UTC time/ },
    { name: '--hour with --since', args: ['--hour', '2026-11-22T21', '--since', '1h'], stderr: /--hour cannot be combined with --since or --until/ },
    { name: 'a range that ends before it starts', args: ['--since', '2026-11-22T21', '--until', '2026-11-22T20:59:59Z'], stderr: /--since \(2026-11-22T21:00:00\.000Z\) must be before --until/ },
    { name: 'a malformed hour', args: ['--hour', 'noon'], stderr: /bad <hour> "noon"/ },
    { name: 'a zero limit', args: ['--limit', '0'], stderr: /--limit must be a positive integer, got "0"/ },
    { name: 'an impossible type name', args: ['--type', 'Track-Played'], stderr: /"Track-Played" is not an event type name/ },
    { name: '--delete with --dry-run', args: ['--delete', '--dry-run'], stderr: /--delete cannot be combined with --dry-run/ },
    { name: 'a positional argument', args: [TYPE], stderr: /"redrive" got unexpected arguments: track_played/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2 with the message and the synopsis`, async () => {
      const r = await hg(c.args);
      assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr, c.stderr);
      assert.match(r.stderr, /usage: hourglass-events redrive \[--type TYPE\]/);
      assert.equal(r.stdout, '');
    });
  }

  it('a bucket without dead letters: nothing to do, exit 0', async () => {
    const empty = await tempDir('hg-redrive-empty-');
    const r = await hg(['-l', empty]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no dead letters match at file:\/\//);
  });

  it('help lists redrive', async () => {
    const r = await runHourglass(['help']);
    assert.match(r.stdout, /^ {2}redrive {23}put dead-lettered messages back through the pipeline/m);
  });
});
