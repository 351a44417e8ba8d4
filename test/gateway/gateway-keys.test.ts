// Per-client keys in a real gateway process on the Pub/Sub emulator: scope (types, event ids), quota isolation, hot reload and revocation.
//
// The keys file is re-read every 300 ms here. Waits are capped so a broken run ends; the delays a
// reload took are printed, never asserted.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { decodeBatch } from '../helpers/decode-batch.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { startService, stopAllServices, type ServiceProcess } from '../helpers/service-process.ts';
import { assertError, postEvents, type Answer } from './gateway-kit.ts';

const CHECKOUT = 'checkout_token_0123456789';
const NOISY = 'noisy_token_0123456789abc';
const QUIET = 'quiet_token_0123456789abc';
const LATE = 'late_token_0123456789abcd';
const RELOAD_MS = 300;
/** Caps on waits, so a broken run ends; nothing is asserted about time. */
const WAIT_MS = 15_000;

interface ClientEntry {
  client: string;
  keys: string[];
  types: string[];
  quota: { eventsPerS: number; bytesPerS: number; burstS?: number };
}

describe('gateway process with per-client keys', () => {
  let registry: Registry;
  let stack: LocalStack;
  let gateway: ServiceProcess;
  let url: string;
  let keysFile: string;
  const generous = { eventsPerS: 100_000, bytesPerS: 100_000_000 };
  const base: ClientEntry[] = [
    { client: 'checkout', keys: [CHECKOUT], types: ['track_played'], quota: generous },
    // 40 events/s, 1 s of burst: the noisy client sends far more than that.
    { client: 'noisy', keys: [NOISY], types: ['*'], quota: { eventsPerS: 40, bytesPerS: 10_000_000, burstS: 1 } },
    { client: 'quiet', keys: [QUIET], types: ['*'], quota: { eventsPerS: 200, bytesPerS: 10_000_000, burstS: 1 } },
  ];
  const writeKeys = (clients: ClientEntry[]) => writeFile(keysFile, JSON.stringify({ clients }, null, 2));
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    keysFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'hg-gateway-keys-')), 'keys.json');
    await writeKeys(base);
    gateway = startService('services/gateway/main.ts', {
      PUBSUB_EMULATOR_HOST: stack.pubsub.host,
      HOURGLASS_PROJECT: stack.pubsub.projectId,
      HOURGLASS_MODE: 'local',
      HOURGLASS_PORT: '0',
      HOURGLASS_GATEWAY_KEYS_FILE: keysFile,
      HOURGLASS_GATEWAY_KEYS_RELOAD_MS: String(RELOAD_MS),
    });
    url = String((await gateway.line('gateway_listening')).url);
  });
  after(async () => {
    stopAllServices();
    await stack?.stop();
    if (keysFile) await rm(path.dirname(keysFile), { recursive: true, force: true });
  });

  /** Every delivered record of `type` published so far (drained from the worker subscription). */
  const delivered = async (type: string) =>
    (await drainSubscription(stack.client, stack.names.workerSubscription(type), { quietMs: 1000 })).flatMap((m) => decodeBatch(registry, m.data, m.attributes).records);

  it('a key publishes only its types, and its event ids are scoped by its client', async () => {
    const ok = await postEvents(url, 'track_played', [{ payload: trackPlayed(1), event_id: 'order-1' }], auth(CHECKOUT));
    assert.equal(ok.status, 200, ok.text);
    const forbidden = assertError(await postEvents(url, 'search_performed', [{ payload: searchPerformed(1), event_id: 'order-2' }], auth(CHECKOUT)), 403, 'HG_FORBIDDEN_TYPE', /client "checkout" may not publish "search_performed"/);
    assert.deepEqual(forbidden.details, { client: 'checkout', type: 'search_performed' });
    assertError(await postEvents(url, 'track_played', [{ payload: trackPlayed(2) }], auth('unknown_token_0123456789')), 401, 'HG_UNAUTHORIZED');
    const records = await delivered('track_played');
    assert.deepEqual(records.map((r) => r.event_id), ['checkout:order-1']);
    assert.deepEqual(await delivered('search_performed'), [], 'nothing published from the refused request');
  });

  it('a client over its quota gets 429 with Retry-After before its body is read; another client is never refused; nothing refused is published', async () => {
    const started = performance.now();
    let noisyAccepted = 0;
    let noisyRefused = 0;
    let largest = 0;
    const quietAnswers: Answer[] = [];
    let seq = 0;
    const noisyLoop = async () => {
      while (performance.now() - started < 3000) {
        const n = 10 + (seq % 11);
        const body = Array.from({ length: n }, () => ({ payload: trackPlayed(seq), event_id: `n-${seq++}` }));
        const res = await postEvents(url, 'track_played', body, auth(NOISY));
        if (res.status === 200) {
          noisyAccepted += n;
          largest = Math.max(largest, n);
        } else {
          const error = assertError(res, 429, 'HG_OVER_QUOTA', /client "noisy" is over its quota/);
          assert.equal(error.retryable, true);
          const retryAfter = Number(res.headers.get('retry-after'));
          assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${res.headers.get('retry-after')}`);
          noisyRefused++;
        }
      }
    };
    const quietLoop = async () => {
      for (let i = 0; i < 20; i++) {
        quietAnswers.push(await postEvents(url, 'track_played', Array.from({ length: 5 }, (_, k) => ({ payload: trackPlayed(k), event_id: `q-${i}-${k}` })), auth(QUIET)));
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await Promise.all([noisyLoop(), noisyLoop(), noisyLoop(), quietLoop()]);
    const elapsedS = (performance.now() - started) / 1000;
    console.log(`quota: noisy client ${noisyAccepted} events accepted, ${noisyRefused} requests refused in ${elapsedS.toFixed(1)} s (quota 40 events/s, burst 1 s); quiet client ${quietAnswers.length} requests`);
    assert.deepEqual(
      quietAnswers.map((a) => a.status),
      quietAnswers.map(() => 200),
      'the quiet client is never refused',
    );
    assert.ok(noisyRefused > 0, 'the noisy client was refused');
    // The bucket's own bound: rate × (T + burst) plus one request in flight per concurrent sender.
    assert.ok(noisyAccepted <= 40 * (elapsedS + 1) + 3 * largest, `${noisyAccepted} events let in over ${elapsedS.toFixed(1)} s`);
    const records = await delivered('track_played');
    const byClient = (prefix: string) => records.filter((r) => String(r.event_id).startsWith(prefix)).length;
    assert.equal(byClient('noisy:'), noisyAccepted, 'exactly what was accepted from the noisy client was published');
    assert.equal(byClient('quiet:'), 100);
  });

  it('a key added to the file is accepted, and a revoked one refused, within seconds, without a restart', async () => {
    assertError(await postEvents(url, 'track_played', [{ payload: trackPlayed(1) }], auth(LATE)), 401, 'HG_UNAUTHORIZED');
    const added = performance.now();
    await writeKeys([...base, { client: 'late', keys: [LATE], types: ['track_played'], quota: generous }]);
    const acceptedAfter = await waitForStatus(() => postEvents(url, 'track_played', [{ payload: trackPlayed(2), event_id: 'late-1' }], auth(LATE)), 200);
    const addMs = performance.now() - added;

    const revoked = performance.now();
    await writeKeys(base.filter((c) => c.client !== 'checkout').concat([{ client: 'late', keys: [LATE], types: ['track_played'], quota: generous }]));
    const refusedAfter = await waitForStatus(() => postEvents(url, 'track_played', [{ payload: trackPlayed(3), event_id: 'c-3' }], auth(CHECKOUT)), 401);
    const revokeMs = performance.now() - revoked;
    console.log(`keys reload every ${RELOAD_MS} ms: a new key accepted after ${addMs.toFixed(0)} ms (${acceptedAfter} tries), a revoked key refused after ${revokeMs.toFixed(0)} ms (${refusedAfter} tries)`);

    // A version that does not parse leaves the keys in force (and says so in the log).
    await writeFile(keysFile, '{"clients": [{"client": "late"');
    await waitFor(() => gateway.lines.some((l) => l.event === 'keys_reload_failed'));
    assert.equal((await postEvents(url, 'track_played', [{ payload: trackPlayed(4), event_id: 'late-2' }], auth(LATE))).status, 200);
    assert.equal((await postEvents(url, 'track_played', [{ payload: trackPlayed(5) }], auth(CHECKOUT))).status, 401);
    const failure = gateway.lines.find((l) => l.event === 'keys_reload_failed')!;
    assert.equal(failure.severity, 'ERROR');
    assert.doesNotMatch(JSON.stringify(gateway.lines), new RegExp(`${CHECKOUT}|${LATE}|${NOISY}`), 'no key ever reaches the log');
    const records = await delivered('track_played');
    // The revoked key's sends before the reload took effect were accepted, and are delivered; none after.
    assert.deepEqual(
      records.map((r) => r.event_id).sort(),
      [...Array.from({ length: refusedAfter - 1 }, () => 'checkout:c-3'), 'late:late-1', 'late:late-2'],
    );
  });
});

/** Sends until the answer has `status`; returns how many sends it took. */
async function waitForStatus(send: () => Promise<Answer>, status: number): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  for (let tries = 1; ; tries++) {
    const answer = await send();
    if (answer.status === status) return tries;
    if (Date.now() > deadline) assert.fail(`still ${answer.status} after ${WAIT_MS} ms: ${answer.text.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`not within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
