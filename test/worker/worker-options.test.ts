// Unit tests of the worker's options: precedence (explicit, then environment, then default), parsing, and validation that lists every problem.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { hasCode } from '../../services/errors/catalogue.ts';
import { resolveWorkerOptions, WORKER_SETTINGS } from '../../services/worker/worker-options.ts';

describe('worker options', () => {
  it('defaults: every type, one-hour windows, 32 MiB / 1 s files, the fast path, a local directory, a 9 s shutdown budget', () => {
    const o = resolveWorkerOptions({});
    assert.equal(o.storageLocation, pathToFileURL(path.resolve('.hourglass-data')).href);
    assert.equal(o.windowLengthS, 3600);
    assert.equal(o.topicPrefix, 'hourglass-');
    assert.equal(o.types, undefined);
    assert.equal(o.maxFileBytes, 32 * 1024 * 1024);
    assert.equal(o.maxFileAgeMs, 1000);
    assert.equal(o.codec, undefined);
    assert.equal(o.projectId, 'hourglass-local');
    assert.equal(o.shutdownTimeoutMs, 9000, 'inside Cloud Run\'s 10 s between SIGTERM and SIGKILL');
    assert.match(o.workerId, /^[A-Za-z0-9_.-]+-[0-9a-f]{12}$/);
    assert.notEqual(resolveWorkerOptions({}).workerId, o.workerId, 'a new id per incarnation');
  });

  it('reads the environment, and explicit values win over it', () => {
    const env = {
      HOURGLASS_BUCKET: 'gs://bucket/prefix',
      HOURGLASS_GCS_ENDPOINT: 'http://127.0.0.1:4443',
      PUBSUB_EMULATOR_HOST: '127.0.0.1:8085',
      HOURGLASS_PROJECT: 'proj',
      HOURGLASS_WINDOW_S: '60',
      HOURGLASS_TOPIC_PREFIX: 'hg-',
      HOURGLASS_TYPES: ' track_played , ui_interaction,',
      HOURGLASS_WORKER_ID: 'w-1',
      HOURGLASS_WORKER_MAX_FILE_BYTES: '1048576',
      HOURGLASS_WORKER_MAX_FILE_AGE_MS: '250',
      HOURGLASS_WORKER_CODEC: 'zstandard',
      HOURGLASS_WORKER_STREAMS: '3',
      HOURGLASS_SHUTDOWN_TIMEOUT_MS: '4000',
    };
    const declared = Object.values(WORKER_SETTINGS).flatMap((s) => s.env ?? []);
    for (const name of Object.keys(env)) assert.ok(declared.includes(name), `${name} is declared in the worker's schema`);
    const o = resolveWorkerOptions(env);
    assert.equal(o.storageLocation, 'gs://bucket/prefix');
    assert.equal(o.gcsEndpoint, 'http://127.0.0.1:4443');
    assert.equal(o.pubsubEmulatorHost, '127.0.0.1:8085');
    assert.equal(o.projectId, 'proj');
    assert.equal(o.windowLengthS, 60);
    assert.equal(o.topicPrefix, 'hg-');
    assert.deepEqual(o.types, ['track_played', 'ui_interaction']);
    assert.equal(o.workerId, 'w-1');
    assert.equal(o.maxFileBytes, 1048576);
    assert.equal(o.maxFileAgeMs, 250);
    assert.equal(o.codec, 'zstandard');
    assert.equal(o.streamsPerSubscription, 3);
    assert.equal(o.shutdownTimeoutMs, 4000);
    const explicit = resolveWorkerOptions(env, { windowLengthS: 10, types: ['search_performed'], maxFileAgeMs: 5 });
    assert.equal(explicit.windowLengthS, 10);
    assert.deepEqual(explicit.types, ['search_performed']);
    assert.equal(explicit.maxFileAgeMs, 5);
  });

  it('a relative file:// location is made absolute once, against the working directory', () => {
    assert.equal(resolveWorkerOptions({ HOURGLASS_BUCKET: 'file://data/here' }).storageLocation, pathToFileURL(path.resolve('data/here')).href);
    assert.equal(resolveWorkerOptions({ HOURGLASS_BUCKET: 'file:///abs/dir' }).storageLocation, 'file:///abs/dir');
  });

  it('refuses bad values with HG_CONFIG_INVALID, naming every problem at once', () => {
    assert.throws(
      () =>
        resolveWorkerOptions({
          HOURGLASS_WINDOW_S: '7',
          HOURGLASS_WORKER_MAX_FILE_BYTES: 'lots',
          HOURGLASS_TYPES: 'Track-Played',
          HOURGLASS_WORKER_CODEC: 'bzip2',
          HOURGLASS_WORKER_ID: 'has space',
          PUBSUB_EMULATOR_HOST: 'http://localhost:8085',
        }),
      (err) => {
        assert.ok(hasCode(err, 'HG_CONFIG_INVALID'));
        for (const fragment of ['HOURGLASS_WINDOW_S="7" is refused: must be a whole number of seconds from 1 to 86400 that divides a day', 'HOURGLASS_WORKER_MAX_FILE_BYTES="lots" is refused: must be an integer', 'HOURGLASS_TYPES="Track-Played" is refused: must be type names', 'HOURGLASS_WORKER_CODEC="bzip2" is refused: must be one of null, deflate, zstandard, snappy', 'HOURGLASS_WORKER_ID="has space" is refused', 'PUBSUB_EMULATOR_HOST="http://localhost:8085" is refused: must be host:port']) {
          assert.ok(err.message.includes(fragment), `message names: ${fragment}\n${err.message}`);
        }
        return true;
      },
    );
    assert.throws(() => resolveWorkerOptions({}, { maxFileAgeMs: 0 }), /option maxFileAgeMs=0 is refused: must be an integer from 1 to 3600000 \(ms\)/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon' }), /HOURGLASS_SHUTDOWN_TIMEOUT_MS="soon" is refused: must be an integer from 1 to 3600000 \(ms\)/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '0' }), /HOURGLASS_SHUTDOWN_TIMEOUT_MS="0" is refused/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '1500.5' }), /HOURGLASS_SHUTDOWN_TIMEOUT_MS="1500.5" is refused/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '3600001' }), /HOURGLASS_SHUTDOWN_TIMEOUT_MS="3600001" is refused: must be an integer from 1 to 3600000/);
    assert.throws(() => resolveWorkerOptions({}, { initialBackoffMs: 10_000, maxBackoffMs: 100 }), /initialBackoffMs \(10000\) must not exceed maxBackoffMs \(100\)/);
    assert.throws(() => resolveWorkerOptions({}, { topicPrefix: '1bad prefix' }), /option topicPrefix="1bad prefix" is refused/);
  });
});
