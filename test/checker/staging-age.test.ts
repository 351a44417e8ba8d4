// The age of unclosed staging, which replaced deleting staging by age: the checker's gauge
// (hourglass.checker.staging.unclosed_age, on /metrics) follows the oldest window that still holds a staged
// file, and the line it logs for the "staging older than its max wait" alert in infra/ says how far past
// the type's max wait that is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Checker } from '../../services/checker/checker.ts';
import { resolveCheckerOptions } from '../../services/checker/checker-options.ts';
import { STAGING_AGE_LOG_CODE, STAGING_OVER_MAX_WAIT_FIELD, stagingAgeLines } from '../../services/checker/staging-age-report.ts';
import { Registry } from '../../services/registry/registry.ts';
import { layout } from '../../services/storage/layout.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { startOpsServer } from '../../services/telemetry/ops-server.ts';
import { startTelemetry } from '../../services/telemetry/telemetry.ts';
import { windowEndUs, windowOf } from '../../services/wire/window.ts';
import { stageMessages, STAGED_WINDOW_S } from '../fixtures/stage-messages.ts';
import { BASE_RECEIVE_US } from '../fixtures/worker-messages.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { hasSample, sampleSum } from '../telemetry/prometheus-text.ts';

const GAUGE = 'hourglass_checker_staging_unclosed_age';

describe('age of unclosed staging', () => {
  it('the gauge follows the oldest window holding a staged file, grows while it waits, and reads 0 once nothing is staged', async () => {
    const telemetry = startTelemetry({ service: 'test' }); // before the checker makes its instruments
    const ops = await startOpsServer({ port: 0, host: '127.0.0.1', telemetry, ready: () => true });
    const registry = await Registry.load();
    const dir = await tempDir();
    const storage = await LocalDirectoryStorage.open(dir);
    const w = windowOf(BASE_RECEIVE_US, STAGED_WINDOW_S);
    // Two windows staged: the gauge follows the older one.
    await stageMessages(storage, registry, [
      { publisher: 'p', firstSeq: 0, count: 10 },
      { publisher: 'p', firstSeq: 10, count: 5, receiveUs: BASE_RECEIVE_US + STAGED_WINDOW_S * 1e6 },
    ]);
    const endMs = windowEndUs(w, STAGED_WINDOW_S) / 1000;
    let nowMs = endMs + 120_000;
    const maxWaitMs = 2 * 3600_000;
    // No heartbeat subscription: the control topic is never read past the window's end, so the window waits for its max wait.
    const checker = new Checker({
      registry,
      storage,
      options: resolveCheckerOptions({}, { location: `file://${dir}`, windowS: STAGED_WINDOW_S, checkerId: 'age-test', livenessTimeoutMs: 3600_000, maxWaitMs }),
      clock: { nowUs: () => nowMs * 1000 },
    });
    const scrape = async () => (await fetch(`${ops.url}/metrics`)).text();
    try {
      assert.equal(hasSample(await scrape(), GAUGE), false, 'nothing reported before the first listing');
      await checker.tick();
      assert.deepEqual(checker.unclosedStaging(), [{ type: 'track_played', window: w, ageS: 120 }]);
      assert.equal(sampleSum(await scrape(), GAUGE, { type: 'track_played' }), 120);

      nowMs += 600_000; // ten minutes on, nothing closed: the age grows with no new listing
      assert.equal(sampleSum(await scrape(), GAUGE, { type: 'track_played' }), 720);

      nowMs = endMs + maxWaitMs + 1000; // past the max wait: the window closes (incomplete), its staging goes
      await checker.tick();
      assert.ok(await storage.stat(layout.closed({ type: 'track_played', index: w, lengthS: STAGED_WINDOW_S }) + layout.successName), 'the window closed');
      await checker.tick();
      // The next window, still staged, ended an hour after the first.
      assert.deepEqual(checker.unclosedStaging(), [{ type: 'track_played', window: w + 1, ageS: (nowMs - endMs) / 1000 - STAGED_WINDOW_S }]);
      assert.equal(sampleSum(await scrape(), GAUGE, { type: 'track_played' }), (nowMs - endMs) / 1000 - STAGED_WINDOW_S);

      nowMs += STAGED_WINDOW_S * 1000; // the second window past its max wait too: nothing staged is left
      await checker.tick();
      await checker.tick();
      assert.deepEqual(checker.unclosedStaging(), []);
      const text = await scrape();
      assert.ok(hasSample(text, GAUGE, { type: 'track_played' }) && sampleSum(text, GAUGE, { type: 'track_played' }) === 0, 'reads 0 once nothing is staged, not the last age');
    } finally {
      await checker.stop();
      await ops.close();
      await telemetry.shutdown();
    }
  });

  it('logs a line per type past its window end, a warning with how far past the max wait once it is', () => {
    const lines = stagingAgeLines(
      [
        { type: 'a', window: 10, ageS: 0 }, // open window: no line
        { type: 'b', window: 10, ageS: 59.6 },
        { type: 'c', window: 10, ageS: 960.2 },
      ],
      3600,
      (type) => (type === 'c' ? 900 : 600),
    );
    assert.deepEqual(lines, [
      { level: 'info', fields: { code: STAGING_AGE_LOG_CODE, type: 'b', window: new Date(36_000_000).toISOString(), oldestUnclosedStagingS: 60, maxWaitS: 600, [STAGING_OVER_MAX_WAIT_FIELD]: -540 } },
      { level: 'warn', fields: { code: STAGING_AGE_LOG_CODE, type: 'c', window: new Date(36_000_000).toISOString(), oldestUnclosedStagingS: 960, maxWaitS: 900, [STAGING_OVER_MAX_WAIT_FIELD]: 60 } },
    ]);
  });
});
