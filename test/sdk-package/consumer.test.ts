// The SDK as another team gets it: packed (scripts/build-sdk.sh), installed from the tarball into an empty project (no
// workspace link), imported from plain JavaScript and from TypeScript (type-checked against the shipped .d.ts), on Node 24
// and on the lowest Node the package claims, publishing to the emulator; the pipeline (worker, checker) then closes those
// events into hours, read back with fastavro.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, lstat, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { layout } from '../../services/storage/layout.ts';
import { readWithFastavro, startPipeline, WINDOW_S } from '../helpers/pipeline-kit.ts';
import { nodeRelease } from '../helpers/node-release.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const EVENTS = 120;
/** The lowest Node.js the package claims (its engines field): the JavaScript consumer runs on it too. */
const LOWEST_NODE = '22.15.0';

/** The same publishing program in both languages: N track_played events, then one invalid event it must see refused. */
const body = (lang: 'js' | 'ts') => `
const registry = await Registry.load(process.env.SCHEMAS${lang === 'ts' ? '!' : ''});
const pubsub = new PubSub({ projectId: process.env.PROJECT });
const publisher = new Publisher({ registry, pubsub, origin: process.env.ORIGIN${lang === 'ts' ? '!' : ''}, windowLengthS: Number(process.env.WINDOW_S), lingerMs: 5 });
const pending${lang === 'ts' ? ': Promise<void>[]' : ''} = [];
for (let i = 0; i < Number(process.env.EVENTS); i++) {
  pending.push(publisher.publish('track_played', {
    user_id: 'u' + i, track_id: 't' + i, context_uri: null, ms_played: 30000 + i, reason_start: 'CLICK', reason_end: 'TRACK_DONE',
    platform: 'IOS', offline: false, country: 'SE', shuffle: i % 2 === 0,
  }, { eventId: 'c' + i }));
}
await Promise.all(pending);
let refused = 'nothing';
try {
  await publisher.publish('track_played', { user_id: 42 });
} catch (err) {
  if (err instanceof HourglassError) refused = err.code;
}
// snappy is an optional native peer, not installed here: asking for it fails at construction, saying so.
let snappyRefused = 'nothing';
try {
  new Publisher({ registry, pubsub, origin: 'snappy-user', codec: 'snappy' });
} catch (err) {
  if (err instanceof HourglassError && /npm install snappy/.test(err.message)) snappyRefused = err.code;
}
await publisher.close();
await pubsub.close();
console.log(JSON.stringify({ publisher: publisher.id, refused, snappyRefused, acknowledged: publisher.stats().acknowledgedEvents }));
`;

const CONSUMER_JS = `import { PubSub } from '@google-cloud/pubsub';
import { HourglassError, Publisher, Registry } from '@hourglass-events/sdk';
${body('js')}`;

const CONSUMER_TS = `import { PubSub } from '@google-cloud/pubsub';
import { HourglassError, Publisher, Registry, type PublisherStats, type ErrorCode } from '@hourglass-events/sdk';
const codeOf = (e: HourglassError): ErrorCode => e.code;
void codeOf;
const statsOf = (p: Publisher): PublisherStats => p.stats();
void statsOf;
${body('ts')}`;

/** Must not type-check: the shipped types are real, not any. */
const MISUSE_TS = `import { Publisher } from '@hourglass-events/sdk';
declare const p: Publisher;
const n: number = await p.publish('track_played', {});
export { n };
`;

describe('the SDK package, installed from its tarball by a consumer', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('installs without workspace links, imports from JavaScript and TypeScript, and its events close into hours', async () => {
    const work = await tempDir('hg-sdk-consumer-');
    const { stdout: packed } = await run('bash', [path.join(REPO, 'scripts/build-sdk.sh'), path.join(work, 'pack')], { cwd: REPO });
    const tarball = packed.trim().split('\n').at(-1)!;
    assert.match(tarball, /hourglass-events-sdk-\d+\.\d+\.\d+\.tgz$/);
    const { stdout: listing } = await run('tar', ['tzf', tarball]);
    const files = listing.trim().split('\n');
    assert.ok(files.includes('package/dist/sdk/index.js') && files.includes('package/dist/sdk/index.d.ts') && files.includes('package/README.md'), files.join('\n'));
    assert.ok(files.every((f) => f === 'package/package.json' || f === 'package/README.md' || /^package\/dist\/.*\.(js|d\.ts)$/.test(f)), `only the build, its types, the README and package.json: ${files.join(', ')}`);
    assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources (Node refuses them under node_modules)');

    const project = path.join(work, 'consumer');
    await cp(path.join(REPO, 'schemas'), path.join(project, 'schemas'), { recursive: true });
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const pubsubVersion = (JSON.parse(await readFile(path.join(REPO, 'node_modules/@google-cloud/pubsub/package.json'), 'utf8')) as { version: string }).version;
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `@google-cloud/pubsub@${pubsubVersion}`], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    const installed = path.join(project, 'node_modules/@hourglass-events/sdk');
    assert.equal((await lstat(installed)).isSymbolicLink(), false, 'a copy, not a link into this repository');
    const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    assert.ok(manifest.peerDependencies['@google-cloud/pubsub'], '@google-cloud/pubsub is a peer');
    await assert.rejects(lstat(path.join(project, 'node_modules/snappy')), 'the native snappy codec is not installed: the SDK must load without it');

    await writeFile(path.join(project, 'consumer.mjs'), CONSUMER_JS);
    await writeFile(path.join(project, 'consumer.ts'), CONSUMER_TS);
    await writeFile(path.join(project, 'misuse.ts'), MISUSE_TS);
    const tsc = path.join(REPO, 'node_modules/.bin/tsc');
    const tscArgs = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2023', '--types', 'node', '--typeRoots', path.join(REPO, 'node_modules/@types')];
    await run(tsc, [...tscArgs, 'consumer.ts'], { cwd: project }).catch((err: { stdout?: string }) => assert.fail(`consumer.ts does not type-check against the package:\n${err.stdout}`));
    const misuse = await run(tsc, [...tscArgs, 'misuse.ts'], { cwd: project }).then(() => undefined, (err: { stdout?: string }) => err.stdout ?? '');
    assert.match(misuse ?? 'it type-checked', /misuse\.ts.*Type 'void' is not assignable to type 'number'/, 'a misuse of the API fails to type-check');

    const kit = await startPipeline();
    cleanups.push(() => kit.stop());
    kit.startChecker();
    const env = { ...process.env, PUBSUB_EMULATOR_HOST: kit.stack.pubsub.host, PROJECT: kit.stack.pubsub.projectId, SCHEMAS: path.join(project, 'schemas'), WINDOW_S: String(WINDOW_S), EVENTS: String(EVENTS) };
    const engines = (JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.equal(engines, `>=${LOWEST_NODE.replace(/\.0$/, '')}`, 'the test runs the lowest Node the package claims');
    const oldest = await nodeRelease(LOWEST_NODE);
    // Each run its own origin: the same client ids from two origins are two events, from one origin one.
    const runs: Array<[string, string, string]> = [[process.execPath, 'consumer.mjs', 'consumer-js'], [process.execPath, 'consumer.ts', 'consumer-ts'], [oldest, 'consumer.mjs', 'consumer-js-node22']];
    const results = await Promise.all(runs.map(async ([node, file, origin]) => {
      const { stdout } = await run(node, [file], { cwd: project, env: { ...env, ORIGIN: origin }, timeout: 120_000 });
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as { publisher: string; refused: string; snappyRefused: string; acknowledged: number };
    }));
    for (const r of results) {
      assert.equal(r.refused, 'HG_INVALID_EVENT', 'an invalid event is refused with a catchable HourglassError');
      assert.equal(r.snappyRefused, 'HG_CONFIG_INVALID', 'the snappy codec without its native binding is refused when the publisher is made');
      assert.equal(r.acknowledged, EVENTS);
    }

    // Every event of both consumers in closed hours, exactly once, with its client id scoped by the consumer's origin.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const closed = [...kit.closed.values()].filter((m) => m.type === 'track_played');
      const counts = results.map((r) => closed.reduce((n, m) => n + m.publishers.filter((p) => p.publisher === r.publisher).reduce((s, p) => s + p.events, 0), 0));
      if (counts.every((c) => c === EVENTS)) break;
      assert.ok(Date.now() < deadline, `both consumers' events closed within 90 s (closed so far: ${counts.join(', ')} of ${EVENTS})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const keys = [...kit.closed.values()].filter((m) => m.type === 'track_played').flatMap((m) => m.files.map((f) => layout.closed({ type: m.type, index: m.window, lengthS: WINDOW_S }) + f.name));
    const records = await readWithFastavro(await kit.localFiles(keys));
    for (const [i, r] of results.entries()) {
      const mine = records.filter((x) => x.publisher === r.publisher);
      assert.deepEqual(mine.map((x) => x.seq).sort((a, b) => a - b), Array.from({ length: EVENTS }, (_, s) => s));
      const origin = runs[i]![2];
      assert.ok(mine.every((x) => String(x.event_id).startsWith(`${origin}:c`)), `event ids scoped by ${origin}`);
    }
  });
});
