// The fault-injection storage used by the chaos suite: failures before a write lands leave nothing; failures after
// it leave the object and still report an error; the environment switch refuses bad values with a clear message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { faultSettings } from '../../services/config/fault-settings.ts';
import { resolveSettings } from '../../services/config/settings.ts';
import { faultOptionsFrom, FaultyStorage } from '../../services/storage/faulty-storage.ts';

/** The fault options a service given `env` would run with. */
const faultOptionsFromEnv = (env: Record<string, string>) => faultOptionsFrom(resolveSettings('test', faultSettings, { env }));
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]) => () => values.shift() ?? 0.99;

describe('faulty storage (chaos hook)', () => {
  it('fails before the write (nothing lands) or after it (the object is there), with a retryable error', async () => {
    const inner = await LocalDirectoryStorage.open(await tempDir());
    const before = new FaultyStorage(inner, { rate: 0.5, mode: 'before', random: sequence(0.1) });
    await assert.rejects(before.createOnly('a', 'x'), (e) => hasCode(e, 'HG_STORAGE_UNAVAILABLE') && /before the write/.test((e as Error).message));
    assert.equal(await inner.stat('a'), undefined);
    const after = new FaultyStorage(inner, { rate: 0.5, mode: 'after', random: sequence(0.1) });
    await assert.rejects(after.createOnly('b', 'y'), (e) => hasCode(e, 'HG_STORAGE_UNAVAILABLE') && /after the write landed/.test((e as Error).message));
    assert.equal((await inner.get('b')).toString(), 'y');
    // Above the rate, writes pass through; reads never fail.
    const passing = new FaultyStorage(inner, { rate: 0.5, mode: 'mixed', random: sequence(0.7) });
    await passing.put('c', 'z');
    assert.equal((await passing.get('c')).toString(), 'z');
    assert.deepEqual({ ...before.injected }, { before: 1, after: 0 });
    assert.deepEqual({ ...after.injected }, { before: 0, after: 1 });
  });

  it('is off unless HOURGLASS_FAULTS_STORAGE_FAIL_RATE is set, and refuses bad values', () => {
    assert.equal(faultOptionsFromEnv({}), undefined);
    assert.equal(faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '0' }), undefined);
    assert.deepEqual(faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '0.02' }), { rate: 0.02, mode: 'mixed' });
    assert.throws(() => faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '2' }), /HOURGLASS_FAULTS_STORAGE_FAIL_RATE="2" is refused: must be a number from 0 to 1/);
    assert.throws(() => faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '0.1', HOURGLASS_FAULTS_STORAGE_FAIL_MODE: 'sometimes' }), /HOURGLASS_FAULTS_STORAGE_FAIL_MODE="sometimes" is refused: must be one of before, after, mixed/);
    assert.throws(() => faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '0.1', HOURGLASS_FAULTS_STORAGE_SEED: 'abc' }), /HOURGLASS_FAULTS_STORAGE_SEED="abc" is refused: must be an integer/);
  });

  it('with HOURGLASS_FAULTS_STORAGE_SEED, the same seed fails the same writes (a chaos run replays)', async () => {
    const outcomes = async (seed: string) => {
      const inner = await LocalDirectoryStorage.open(await tempDir());
      const storage = new FaultyStorage(inner, faultOptionsFromEnv({ HOURGLASS_FAULTS_STORAGE_FAIL_RATE: '0.3', HOURGLASS_FAULTS_STORAGE_SEED: seed })!);
      const out: string[] = [];
      for (let i = 0; i < 40; i++) out.push(await storage.put(`k${i}`, 'x').then(() => 'ok', (e: Error) => (/after/.test(e.message) ? 'after' : 'before')));
      return out;
    };
    const first = await outcomes('7');
    assert.deepEqual(await outcomes('7'), first);
    assert.notDeepEqual(await outcomes('8'), first);
    assert.ok(first.includes('ok') && first.some((x) => x !== 'ok'), `some writes fail and some pass: ${first.join(',')}`);
  });
});
