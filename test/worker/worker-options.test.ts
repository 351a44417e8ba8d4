// Unit tests of the worker's options: precedence (explicit, then environment, then default), parsing, and validation that lists every problem.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { hasCode } from '../../services/errors/catalogue.ts';
import { resolveWorkerOptions, WORKER_ENV } from '../../services/worker/worker-options.ts';

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
    assert.deepEqual(Object.values(WORKER_ENV).sort(), Object.keys(env).sort(), 'every documented variable is exercised');
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
        for (const fragment of ['window length 7s', 'HOURGLASS_WORKER_MAX_FILE_BYTES must be a number', '"Track-Played" is not a valid type name', 'unknown codec "bzip2"', 'workerId must match', 'pubsubEmulatorHost must be host:port']) {
          assert.ok(err.message.includes(fragment), `message names: ${fragment}\n${err.message}`);
        }
        return true;
      },
    );
    assert.throws(() => resolveWorkerOptions({}, { maxFileAgeMs: 0 }), /maxFileAgeMs must be a positive number/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: 'soon' }), /HOURGLASS_SHUTDOWN_TIMEOUT_MS must be a number/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '0' }), /shutdownTimeoutMs must be a positive number/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '1500.5' }), /shutdownTimeoutMs must be a whole number/);
    assert.throws(() => resolveWorkerOptions({ HOURGLASS_SHUTDOWN_TIMEOUT_MS: '3600001' }), /shutdownTimeoutMs \(HOURGLASS_SHUTDOWN_TIMEOUT_MS\) must be at most 3600000/);
    assert.throws(() => resolveWorkerOptions({}, { initialBackoffMs: 10_000, maxBackoffMs: 100 }), /initialBackoffMs must not exceed maxBackoffMs/);
    assert.throws(() => resolveWorkerOptions({}, { topicPrefix: '1bad prefix' }), /not a usable Pub\/Sub name prefix/);
  });
});
