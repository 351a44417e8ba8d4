// The hourglass-events CLI, run as a child process against a bucket a real pipeline run produced (emulator, SDK, worker,
// checker, 2-second windows): every command's output, file:// and gs://, and bad arguments with their exit codes.
import assert from 'node:assert/strict';
import { cp, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ClosedManifest } from '../../services/checker/closed-manifest.ts';
import { formatWindow } from '../../services/cli/window-arg.ts';
import { startFakeGcsServer } from '../../services/local-stack/fake-gcs-server.ts';
import { Publisher } from '../../services/sdk/index.ts';
import { GcsBucketStorage } from '../../services/storage/gcs-bucket.ts';
import { layout } from '../../services/storage/layout.ts';
import { startPipeline, WINDOW_S, type PipelineKit } from '../helpers/pipeline-kit.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { runHourglass } from './run-hourglass.ts';

const TRACKS = 400;
const SEARCHES = 30;

// One pipeline run for the whole file (set up at the top level so its after() hook runs at the end).
const kit = await startPipeline();
const checker = kit.startChecker({ checkerId: 'checker-cli' });
const publisher = new Publisher({ registry: kit.registry, pubsub: kit.stack.client, windowLengthS: WINDOW_S, lingerMs: 5, maxBatchEvents: 50 });
const pending: Array<Promise<void>> = [];
for (let i = 0; i < TRACKS; i++) {
  // Every 4th event in schema v1: the closed hour reads it in v2, with the default.
  pending.push(publisher.publish('track_played', trackPlayed(i, i % 4 !== 0), i % 4 === 0 ? { version: 1 } : {}));
  if (i < SEARCHES) pending.push(publisher.publish('search_performed', searchPerformed(i)));
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 350));
}
await Promise.all(pending);
await publisher.close();
await waitForEvents(kit, 'track_played', publisher.id, TRACKS);
await waitForEvents(kit, 'search_performed', publisher.id, SEARCHES);
// The checker has published the publisher as finished (its final heartbeat read), for the status test.
for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
  const status = JSON.parse((await kit.storage.get('checker/status/checker-cli.json')).toString('utf8')) as { publishers: Array<{ id: string; final: boolean }> };
  if (status.publishers.some((p) => p.id === publisher.id && p.final)) break;
  if (Date.now() > deadline) throw new Error('the checker did not report the publisher finished within 30 s');
}
// From here the bucket holds still: the checker would otherwise go on closing empty windows under the tests.
await checker.stop();
/** Every closed track_played window, in time order: those with the run's events, and the empty ones around them. */
const trackWindows = [...kit.closed.values()].filter((m) => m.type === 'track_played').sort((a, b) => a.window - b.window);
const eventWindows = trackWindows.filter((m) => m.events > 0);
const emptyBucket = await tempDir('hg-cli-empty-');

const ENV = { HOURGLASS_BUCKET: kit.storage.location, HOURGLASS_WINDOW_S: String(WINDOW_S) };
const hg = (args: string[], env: NodeJS.ProcessEnv = {}) => runHourglass(args, { ...ENV, ...env });
const label = (m: ClosedManifest) => formatWindow(m.window, m.windowS);
const dirOf = (m: ClosedManifest, root = kit.storage.root) => path.join(root, layout.closed({ type: m.type, index: m.window, lengthS: m.windowS }));

/** `iso` to the second, moved 2 s on if it falls on a whole minute (then it would start a 60-s window too). */
function offMinute(iso: string): string {
  const ms = Date.parse(iso);
  return new Date(ms % 60_000 === 0 ? ms + 2000 : ms).toISOString().slice(0, 19);
}

describe('hourglass-events on a closed pipeline run (file://)', () => {
  it('ls lists every closed window of a type, in a form cat accepts, with status and counts', async () => {
    const r = await hg(['ls', 'track_played']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress bar or noise when stderr is not a terminal');
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^WINDOW\s+STATUS\s+EVENTS\s+LOST/);
    for (const m of trackWindows) {
      const line = lines.find((l) => l.startsWith(`${label(m)} `));
      assert.ok(line, `window ${label(m)} listed`);
      assert.match(line, new RegExp(`^${label(m)}\\s+complete\\s+${m.events}\\s+0\\s+0\\s+${m.files.length}\\s`));
    }
    const json = (await hg(['ls', 'track_played', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { window: string; events: number; status: string });
    assert.deepEqual(json.map((j) => j.window), trackWindows.map(label));
    assert.equal(json.reduce((n, j) => n + j.events, 0), TRACKS);
    const newest = (await hg(['ls', 'track_played', '--limit', '1', '--json'])).stdout.trim().split('\n');
    assert.equal(newest.length, 1);
    assert.equal((JSON.parse(newest[0]!) as { window: string }).window, label(trackWindows.at(-1)!));
  });

  it('manifest prints the _MANIFEST.json of a window', async () => {
    const m = eventWindows[0]!;
    const r = await hg(['manifest', 'track_played', label(m)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(await readFile(path.join(dirOf(m), layout.manifestName), 'utf8')));
    // The other spellings of the same window.
    const start = new Date(m.windowStart);
    const hive = layout.closed({ type: m.type, index: m.window, lengthS: m.windowS }).slice('track_played/'.length);
    for (const spelling of [m.windowStart, start.toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z', hive]) {
      const again = await hg(['manifest', 'track_played', spelling]);
      assert.equal(again.code, 0, `${spelling}: ${again.stderr}`);
      assert.equal(again.stdout, r.stdout);
    }
  });

  it('cat prints exactly the records fastavro reads, as JSON lines (timestamp-micros as numbers)', async () => {
    let total = 0;
    for (const m of trackWindows) {
      const r = await hg(['cat', 'track_played', label(m)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      // A window in which the run published nothing (it closes empty, as every window does) prints nothing.
      const ours = r.stdout === '' ? [] : r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const theirs = await fastavroRecords(m.files.map((f) => path.join(dirOf(m), f.name)));
      assert.equal(ours.length, m.events);
      assert.deepEqual(ours, theirs);
      for (const rec of ours) {
        assert.equal(typeof rec.receive_time, 'number');
        assert.equal(rec.publisher, publisher.id);
        if ((rec.seq as number) % 4 === 0) assert.equal(rec.shuffle, false, 'a v1 event reads as v2 with the default');
      }
      total += ours.length;
    }
    assert.equal(total, TRACKS);
  });

  it('wait: exit 0 for a complete window, 3 for an incomplete one, 4 at its timeout; it blocks until the window closes', async () => {
    const m = eventWindows[0]!;
    const done = await hg(['wait', 'track_played', label(m), '--timeout', '5']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`^track_played ${label(m)}: complete, ${m.events} events, closed [0-9.]+ s after its end \\(file://`));
    // The same window, incomplete (its manifest says so) and not closed yet (no _SUCCESS): a bucket of its own.
    const bucket = await tempDir('hg-cli-wait-');
    const target = dirOf(m, bucket);
    const manifest = JSON.parse(await readFile(path.join(dirOf(m), layout.manifestName), 'utf8')) as ClosedManifest;
    const notYet = await hg(['-l', bucket, 'wait', 'track_played', label(m), '--timeout', '1s']);
    assert.equal(notYet.code, 4, notYet.stderr);
    assert.match(notYet.stderr, new RegExp(`track_played ${label(m)} is not closed after 1 s`));
    // It blocks: the close lands while it polls, and it exits with the close's status.
    let exited = false;
    const waiting = hg(['-l', bucket, 'wait', 'track_played', label(m), '--timeout', '60', '--poll-max-s', '1', '--json']).finally(() => (exited = true));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(exited, false, 'wait is still waiting on a window with no _SUCCESS');
    // As a checker closes: parts and manifest first, _SUCCESS last.
    await cp(dirOf(m), target, { recursive: true, filter: (src) => path.basename(src) !== layout.successName });
    await writeFile(path.join(target, layout.manifestName), JSON.stringify({ ...manifest, status: 'incomplete', lostEvents: 3 }));
    await writeFile(path.join(target, layout.successName), '');
    const incomplete = await waiting;
    assert.equal(incomplete.code, 3, incomplete.stderr);
    assert.deepEqual(JSON.parse(incomplete.stdout), { type: 'track_played', windowStart: m.windowStart, status: 'incomplete', events: m.events, lostEvents: 3, folder: `file://${target}` });
    const future = formatWindow(Math.floor(Date.now() / 1000 / WINDOW_S) + 3600, WINDOW_S);
    const later = await hg(['wait', 'track_played', future, '--timeout', '1']);
    assert.equal(later.code, 4);
    assert.match(later.stderr, /is not closed after 1 s \(it ends in \d+ s\)/);
  });

  it('verify passes on every closed window', async () => {
    for (const m of trackWindows) {
      const r = await hg(['verify', 'track_played', label(m)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^verified track_played ${label(m)}: ${m.files.length} file\\(s\\), ${m.events} records, checksums and counts match the manifest \\(complete\\)$`, 'm'));
      for (const f of m.files) assert.match(r.stdout, new RegExp(`^ok\\s+${f.name}\\s+${f.events} records`, 'm'));
    }
  });

  it('verify fails with exit 1 and names the file and the check after a part file is corrupted or truncated', async () => {
    const copy = await tempDir('hg-cli-corrupt-');
    await cp(kit.storage.root, copy, { recursive: true });
    const m = trackWindows.find((w) => w.events > 20) ?? trackWindows[0]!;
    const part = path.join(dirOf(m, copy), m.files[0]!.name);
    const bytes = await readFile(part);
    bytes[bytes.length - 40]! ^= 0x5a; // inside the last block's body
    await writeFile(part, bytes);
    const flipped = await hg(['verify', 'track_played', label(m), '-l', `file://${copy}`]);
    assert.equal(flipped.code, 1);
    assert.match(flipped.stdout, new RegExp(`^MISMATCH\\s+${m.files[0]!.name}: .*SHA-256 is [0-9a-f]{64}, the manifest says ${m.files[0]!.sha256}`, 'm'));
    assert.match(flipped.stderr, new RegExp(`verification FAILED for track_played ${label(m)}`));

    await truncate(part, bytes.length - 100);
    const truncated = await hg(['verify', 'track_played', label(m), '-l', copy]);
    assert.equal(truncated.code, 1);
    assert.match(truncated.stdout, /size is \d+ bytes, the manifest says \d+/);
    assert.match(truncated.stdout, /unreadable: truncated block/);
    const cat = await hg(['cat', 'track_played', label(m), '-l', copy]);
    assert.equal(cat.code, 1);
    assert.match(cat.stderr, /part-.*\.avro is \d+ bytes, the manifest says \d+: the file was changed or truncated \(run "hourglass-events verify track_played /);
  });

  it('status shows every type with its windows and states, the checker and the publishers', async () => {
    const r = await hg(['status', '--windows', '300']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^checker checker-cli: reported /m);
    assert.match(r.stdout, /^publishers: \d+ alive, 1 finished, \d+ silent$/m);
    assert.match(r.stdout, /^track_played \(tier high\)$/m);
    assert.match(r.stdout, /^search_performed \(tier normal\)$/m);
    // No ui_interaction events were published: its windows closed empty, by proof.
    const ui = r.stdout.slice(r.stdout.indexOf('ui_interaction (tier low)\n')).split('\n').slice(2).filter((l) => l.startsWith('  2'));
    assert.ok(ui.some((line) => /^ {2}\S+\s+closed\s+0\s/.test(line)), 'ui_interaction lists its windows, closed empty');
    // The window that ended just before the checker stopped may not have closed yet: "closing", with nothing staged.
    for (const line of ui) assert.match(line, /^ {2}\S+\s+(closed\s+0\s|closing\s+0 staged\s)/);
    for (const m of trackWindows) assert.match(r.stdout, new RegExp(`^ {2}${label(m)}\\s+closed\\s+${m.events}\\s+\\d+\\.\\ds\\s+0\\s+0\\s+0\\s+0`, 'm'));
    const json = JSON.parse((await hg(['status', '--windows', '300', '--json', '--type', 'track_played'])).stdout) as { windowS: number; cells: Array<{ type: string; window: number; state: string; events: number }> };
    assert.equal(json.windowS, WINDOW_S);
    assert.deepEqual(json.cells.filter((c) => c.state === 'closed').map((c) => [c.window, c.events]), trackWindows.map((m) => [m.window, m.events]));
    assert.ok(json.cells.every((c) => c.type === 'track_played'));
  });

  it('schemas check prints the registry, or why it does not load (exit 1)', async () => {
    const ok = await hg(['schemas', 'check']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^track_played\s+v1,v2\s+high\s+30s\s+900s\s+royalties-data@music\.example$/m);
    assert.match(ok.stdout, /^ok: 3 type\(s\) in /m);
    // A v3 that adds a field without a default cannot read v2 data.
    const dir = await tempDir('hg-cli-schemas-');
    await cp(path.join(kit.registry.dir, 'track_played'), path.join(dir, 'track_played'), { recursive: true });
    const v2 = JSON.parse(await readFile(path.join(dir, 'track_played', 'v2.avsc'), 'utf8')) as { fields: unknown[] };
    v2.fields.push({ name: 'volume', type: 'int' });
    await writeFile(path.join(dir, 'track_played', 'v3.avsc'), JSON.stringify(v2));
    const bad = await hg(['schemas', 'check', '--dir', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /hourglass-events: the schema registry does not load: .*v3\.avsc: event type "track_played" version 3 cannot read data written with version [12]/);
    const missing = await hg(['schemas', 'check', '--dir', path.join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the schemas folder/);
  });
});

describe('hourglass-events publish', () => {
  const pubsubEnv = () => ({ PUBSUB_EMULATOR_HOST: kit.stack.pubsub.host, HOURGLASS_PROJECT: kit.stack.pubsub.projectId });

  it('publishes every line (envelopes with event ids and bare payloads) through the SDK; the events reach closed windows', async () => {
    const dir = await tempDir('hg-cli-publish-');
    const file = path.join(dir, 'searches.jsonl');
    const lines = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? JSON.stringify({ payload: searchPerformed(1000 + i), event_id: `cli-${i}` }) : JSON.stringify(searchPerformed(1000 + i))));
    lines.splice(10, 0, '', '   '); // blank lines are skipped
    await writeFile(file, `${lines.join('\n')}\n`);
    // A checker for this test only, stopped at its end, so the later tests read a bucket that holds still.
    const publishChecker = kit.startChecker({ checkerId: 'checker-cli-publish' });
    after(() => publishChecker.stop());
    const r = await hg(['publish', 'search_performed', file], pubsubEnv());
    assert.equal(r.code, 0, r.stderr);
    const id = /^published 25 events of search_performed \(v1\) from .* as publisher (\S+)$/m.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    const windows = await waitForEvents(kit, 'search_performed', id, 25);
    const records: Array<Record<string, unknown>> = [];
    for (const m of windows) {
      const cat = await hg(['cat', 'search_performed', label(m)]);
      assert.equal(cat.code, 0, cat.stderr);
      records.push(...cat.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((x) => x.publisher === id));
    }
    assert.deepEqual(records.map((x) => x.seq).sort((a, b) => (a as number) - (b as number)), Array.from({ length: 25 }, (_, i) => i));
    for (const x of records) {
      const i = x.seq as number;
      // A client id is delivered scoped by the CLI's origin; a generated one is not.
      assert.equal(x.event_id, i % 2 === 0 ? `hourglass-cli:cli-${i}` : `${id}-${i}`);
      assert.equal(x.query, searchPerformed(1000 + i).query);
    }
    await publishChecker.stop();
  });

  it('refuses a file with invalid lines, naming each line, and publishes nothing (exit 1)', async () => {
    const dir = await tempDir('hg-cli-publish-');
    const file = path.join(dir, 'bad.jsonl');
    const good = JSON.stringify(searchPerformed(1));
    const { market: _market, ...noMarket } = searchPerformed(2);
    const longId = JSON.stringify({ payload: searchPerformed(4), event_id: 'x'.repeat(250) }); // valid alone, too long once scoped
    await writeFile(file, [good, '{not json', good, JSON.stringify(noMarket), JSON.stringify({ ...searchPerformed(3), results_count: 'many' }), '[1,2]', good, longId].join('\n'));
    // No Pub/Sub at this address: a publish attempt would fail loudly, so success here means none was made.
    const r = await hg(['publish', 'search_performed', file], { PUBSUB_EMULATOR_HOST: '127.0.0.1:9' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.jsonl: 5 invalid line\(s\) for search_performed v1:/);
    assert.match(r.stderr, /^ {2}line 2: not JSON/m);
    assert.match(r.stderr, /^ {2}line 4: market: expected a string, got nothing \(missing\)/m);
    assert.match(r.stderr, /^ {2}line 5: results_count: expected an int \(32-bit integer\), got the string "many"/m);
    assert.match(r.stderr, /^ {2}line 6: expected a JSON object/m);
    assert.match(r.stderr, /^ {2}line 8: event_id: is delivered scoped as "hourglass-cli:<event_id>", 264 characters, over the limit of 256/m);
    assert.match(r.stderr, /nothing was published/);
  });

  it('--skip-invalid publishes the valid lines and still exits 1', async () => {
    const dir = await tempDir('hg-cli-publish-');
    const file = path.join(dir, 'mixed.jsonl');
    await writeFile(file, [JSON.stringify(searchPerformed(5)), '{oops', JSON.stringify(searchPerformed(6))].join('\n'));
    const r = await hg(['publish', 'search_performed', file, '--skip-invalid'], pubsubEnv());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 2: not JSON/);
    assert.match(r.stdout, /^published 2 events of search_performed/m);
  });
});

describe('hourglass-events on gs:// (fake-gcs-server)', () => {
  it('ls, manifest, cat, verify and status read a bucket on GCS exactly as the local directory', async () => {
    const gcs = await startFakeGcsServer();
    after(() => gcs.stop());
    await gcs.createBucket('hg-cli');
    const remote = new GcsBucketStorage({ bucket: 'hg-cli', prefix: 'lake', apiEndpoint: gcs.endpoint, projectId: 'hourglass-local' });
    for (const o of [...(await kit.storage.list('track_played/')), ...(await kit.storage.list('checker/status/'))]) await remote.put(o.key, await kit.storage.get(o.key));
    const env = { HOURGLASS_GCS_ENDPOINT: gcs.endpoint };
    const m = eventWindows[0]!;
    const gsArgs = ['-l', 'gs://hg-cli/lake'];
    for (const args of [['ls', 'track_played', '--json'], ['manifest', 'track_played', label(m)], ['cat', 'track_played', label(m)]]) {
      const [local, onGcs] = await Promise.all([hg(args), hg([...gsArgs, ...args], env)]);
      assert.equal(onGcs.code, 0, onGcs.stderr);
      assert.equal(onGcs.stdout.replaceAll('gs://hg-cli/lake', kit.storage.location), local.stdout, args.join(' '));
    }
    const verify = await hg([...gsArgs, 'verify', 'track_played', label(m)], env);
    assert.equal(verify.code, 0, verify.stderr);
    const status = await hg([...gsArgs, 'status', '--windows', '300', '--type', 'track_played'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^ {2}${label(m)}\\s+closed\\s+${m.events}`, 'm'));
  });
});

describe('hourglass-events with bad arguments', () => {
  const m = () => eventWindows[0]!;
  const cases: Array<{ name: string; args: () => string[]; env?: NodeJS.ProcessEnv; code: number; stderr: RegExp }> = [
    { name: 'no command', args: () => [], code: 2, stderr: /no command given\nusage: hourglass-events <command> \[options\]\n\nReads, checks/ },
    { name: 'unknown command', args: () => ['frobnicate'], code: 2, stderr: /unknown command "frobnicate"\nusage: hourglass-events <command> \[options\] {3}commands: status, ls/ },
    { name: 'unknown option', args: () => ['ls', 'track_played', '--bogus'], code: 2, stderr: /Unknown option '--bogus'/ },
    { name: 'an option of another command', args: () => ['ls', 'track_played', '--dir', 'x'], code: 2, stderr: /option --dir does not apply to "ls"\nusage: hourglass-events ls <type>/ },
    { name: 'ls without a type', args: () => ['ls'], code: 2, stderr: /"ls" needs <type>/ },
    { name: 'cat without an hour', args: () => ['cat', 'track_played'], code: 2, stderr: /"cat" needs <hour>\nusage: hourglass-events cat <type> <hour>/ },
    { name: 'verify with an extra argument', args: () => ['verify', 'track_played', label(m()), 'more'], code: 2, stderr: /unexpected arguments: more/ },
    { name: 'a malformed hour', args: () => ['cat', 'track_played', 'yesterday'], code: 2, stderr: /bad <hour> "yesterday": expected 2026-11-22T21, 2026-11-22\/21, or a window start/ },
    { name: 'an hour for 2-second windows', args: () => ['cat', 'track_played', m().windowStart.slice(0, 13)], code: 2, stderr: /names an hour, but windows are 2 s long/ },
    // A 2-s window's start that is not on a whole minute (one in 30 is: then the next one, 2 s later).
    { name: 'a time that is no window start', args: () => ['manifest', 'track_played', offMinute(m().windowStart)], env: { HOURGLASS_WINDOW_S: '60' }, code: 2, stderr: /not the start of a 60 s window/ },
    { name: 'an impossible type name', args: () => ['cat', 'Track-Played', label(m())], code: 2, stderr: /"Track-Played" is not an event type name/ },
    { name: 'an unknown type', args: () => ['manifest', 'no_such_type', label(m())], code: 1, stderr: /no closed window no_such_type .* \("no_such_type" is not a registered type; known: search_performed, track_played, ui_interaction\)/ },
    { name: 'ls of a type with no closed windows', args: () => ['-l', emptyBucket, 'ls', 'ui_interaction'], code: 1, stderr: /no closed windows of "ui_interaction" at file:\/\// },
    { name: 'a window that never closed', args: () => ['cat', 'track_played', '2020-01-01T00:00:00Z'], code: 1, stderr: /no closed window track_played 2020-01-01T00:00:00Z at file:\/\/.*\/track_played\/dt=2020-01-01\/hour=00\/minute=00\/second=00\// },
    { name: 'the default hour-long windows on a 2-second bucket', args: () => ['manifest', 'track_played', m().windowStart.slice(0, 13)], env: { HOURGLASS_WINDOW_S: '' }, code: 1, stderr: /the windows under it are 2 s long: pass --window-s 2/ },
    { name: 'a window length that does not divide a day', args: () => ['--window-s', '7', 'status'], code: 2, stderr: /--window-s="7" is refused: must be a whole number of seconds from 1 to 86400 that divides a day/ },
    { name: 'a bucket that does not exist', args: () => ['-l', '/nonexistent/hourglass-bucket', 'ls', 'track_played'], code: 1, stderr: /no bucket at \/nonexistent\/hourglass-bucket/ },
    { name: 'an unsupported location', args: () => ['-l', 'ftp://example/bucket', 'ls', 'track_played'], code: 2, stderr: /unsupported storage location/ },
    { name: 'schemas without check', args: () => ['schemas', 'list'], code: 2, stderr: /unknown subcommand "schemas list"/ },
    { name: 'publish of an unknown type', args: () => ['publish', 'no_such_type', 'x.jsonl'], code: 2, stderr: /unknown event type "no_such_type" \(known: / },
    { name: 'publish of a missing file', args: () => ['publish', 'search_performed', '/nonexistent/events.jsonl'], code: 1, stderr: /cannot read \/nonexistent\/events\.jsonl: no such file/ },
    { name: 'publish with a schema version that does not exist', args: () => ['publish', 'search_performed', 'x.jsonl', '--schema-version', '9'], code: 2, stderr: /has no schema version 9/ },
    { name: 'a non-numeric limit', args: () => ['ls', 'track_played', '--limit', 'ten'], code: 2, stderr: /--limit must be a positive integer, got "ten"/ },
    { name: 'wait with a malformed timeout', args: () => ['wait', 'track_played', label(m()), '--timeout', 'soon'], code: 2, stderr: /--timeout must be a duration such as 90, 90s, 30m or 2h, got "soon"/ },
    { name: 'help for an unknown command', args: () => ['help', 'frob'], code: 2, stderr: /unknown command "frob"/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code} with a message`, async () => {
      const r = await hg(c.args(), c.env);
      assert.equal(r.code, c.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr, c.stderr);
      assert.doesNotMatch(r.stderr, /unexpected error| {4}at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  }

  it('help and --help print usage on stdout with exit 0', async () => {
    const help = await hg(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: hourglass-events <command> \[options\]/);
    assert.match(help.stdout, /exit codes: 0 ok, 1 failure .*, 2 bad usage/);
    const catHelp = await hg(['cat', '--help']);
    assert.equal(catHelp.code, 0);
    assert.match(catHelp.stdout, /^usage: hourglass-events cat <type> <hour>\n/);
  });
});

/** Waits until closed windows of `type` hold `count` events of `publisherId`; returns the manifests of the windows holding some, in time order. */
async function waitForEvents(k: PipelineKit, type: string, publisherId: string, count: number): Promise<ClosedManifest[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const windows = [...k.closed.values()].filter((m) => m.type === type && m.publishers.some((p) => p.publisher === publisherId && p.events > 0)).sort((a, b) => a.window - b.window);
    const events = windows.reduce((n, m) => n + m.publishers.filter((p) => p.publisher === publisherId).reduce((s, p) => s + p.events, 0), 0);
    if (events >= count) return windows;
    if (Date.now() > deadline) throw new Error(`${type}: ${events} of ${count} events of ${publisherId} in closed windows after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Records as fastavro (an independent reader) sees them, with timestamps as exact microseconds. */
async function fastavroRecords(files: string[]): Promise<Array<Record<string, unknown>>> {
  const python = await ensurePythonVenv();
  const script = `
import sys, json, datetime, fastavro
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def plain(v):
    return (v - EPOCH) // datetime.timedelta(microseconds=1) if isinstance(v, datetime.datetime) else v
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        for r in fastavro.reader(f):
            print(json.dumps({k: plain(v) for k, v in r.items()}))
`;
  const out = await runPythonScript(python, script, files);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}


