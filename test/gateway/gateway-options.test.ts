// Gateway options: defaults per mode, env precedence, token parsing, and every invalid value reported at once (never a token).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { hasCode } from '../../services/errors/catalogue.ts';
import { splitList } from '../../services/config/setting-kinds.ts';
import { GATEWAY_DEFAULTS, resolveGatewayOptions } from '../../services/gateway/gateway-options.ts';

const TOKEN_A = 'tok_aaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'tok_bbbbbbbbbbbbbbbbbbbb';

function configError(fn: () => unknown): { message: string; problems: string[] } {
  try {
    fn();
  } catch (err) {
    assert.ok(hasCode(err, 'HG_CONFIG_INVALID'), `expected HG_CONFIG_INVALID, got ${String(err)}`);
    return { message: err.message, problems: (err.details as { problems: string[] }).problems };
  }
  assert.fail('expected HG_CONFIG_INVALID');
}

describe('resolveGatewayOptions', () => {
  it('local mode (emulator in the environment): loopback, no auth, the documented defaults', () => {
    const o = resolveGatewayOptions({ PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' });
    assert.equal(o.mode, 'local');
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 8080);
    assert.equal(o.authEnabled, false);
    assert.deepEqual(o.tokens, []);
    assert.equal(o.maxBodyBytes, 5 * 1024 * 1024);
    assert.equal(o.maxEventsPerRequest, 1000);
    assert.equal(o.maxEventBytes, GATEWAY_DEFAULTS.maxEventBytes);
    assert.equal(o.retryAfterS, 1);
    assert.equal(o.projectId, 'hourglass-local');
    assert.equal(o.topicPrefix, 'hourglass-');
    assert.equal(o.windowS, 3600);
  });

  it('cloud is the default without an emulator, and then refuses to start without a keys file', () => {
    const { message } = configError(() => resolveGatewayOptions({}));
    assert.match(message, /cloud mode needs HOURGLASS_GATEWAY_KEYS_FILE/);
  });

  it('cloud mode with a keys file: every interface, auth on, the ops listener on 8081 apart from PORT, PORT honoured', () => {
    const o = resolveGatewayOptions({ HOURGLASS_MODE: 'cloud', PORT: '9090', HOURGLASS_GATEWAY_KEYS_FILE: '/secrets/keys.json', HOURGLASS_PROJECT: 'p1' });
    assert.equal(o.host, '0.0.0.0');
    assert.equal(o.port, 9090);
    assert.equal(o.authEnabled, true);
    assert.equal(o.keysFile, '/secrets/keys.json');
    assert.equal(o.keysReloadMs, 2000);
    assert.deepEqual([o.opsHost, o.opsPort], ['0.0.0.0', 8081]);
    assert.equal(o.projectId, 'p1');
  });

  it('cloud mode never runs open nor on unscoped tokens; locally, one source of keys and the ops port apart', () => {
    const open = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'cloud', HOURGLASS_GATEWAY_AUTH: 'off', HOURGLASS_GATEWAY_KEYS_FILE: '/k.json' }));
    assert.match(open.message, /authentication cannot be off in cloud mode/);
    const tokens = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'cloud', HOURGLASS_GATEWAY_TOKENS: TOKEN_A }));
    assert.match(tokens.message, /HOURGLASS_GATEWAY_TOKENS is for local mode/);
    const both = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_TOKENS: TOKEN_A, HOURGLASS_GATEWAY_KEYS_FILE: '/k.json' }));
    assert.match(both.message, /not both/);
    const samePort = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_PORT: '8080', HOURGLASS_OPS_PORT: '8080' }));
    assert.match(samePort.message, /ops port must differ/);
    const local = resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_KEYS_FILE: '/k.json', HOURGLASS_GATEWAY_KEYS_RELOAD_MS: '250' });
    assert.deepEqual([local.authEnabled, local.keysReloadMs, local.opsHost, local.opsPort], [true, 250, '127.0.0.1', 0]);
  });

  it('HOURGLASS_PORT wins over PORT; overrides win over the environment', () => {
    assert.equal(resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_PORT: '7000', PORT: '9090' }).port, 7000);
    const o = resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_PORT: '7000', HOURGLASS_MAX_EVENTS_PER_REQUEST: '50' }, { port: 0, maxEventsPerRequest: 7 });
    assert.equal(o.port, 0);
    assert.equal(o.maxEventsPerRequest, 7);
  });

  it('tokens turn auth on in local mode, split on commas and newlines; HOURGLASS_GATEWAY_AUTH=off turns it off there', () => {
    const o = resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_TOKENS: `${TOKEN_A}, ${TOKEN_B}\n\n` });
    assert.equal(o.authEnabled, true);
    assert.deepEqual(o.tokens, [TOKEN_A, TOKEN_B]);
    const open = resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_AUTH: 'off', HOURGLASS_HOST: '0.0.0.0' });
    assert.equal(open.authEnabled, false);
    assert.equal(open.host, '0.0.0.0');
  });

  it('reads the limits from the environment', () => {
    const o = resolveGatewayOptions({
      HOURGLASS_MODE: 'local',
      HOURGLASS_MAX_BODY_BYTES: '2048',
      HOURGLASS_MAX_EVENTS_PER_REQUEST: '10',
      HOURGLASS_MAX_EVENT_BYTES: '4096',
      HOURGLASS_RETRY_AFTER_S: '7',
      HOURGLASS_SHUTDOWN_TIMEOUT_MS: '1500',
      HOURGLASS_WINDOW_S: '60',
      HOURGLASS_TOPIC_PREFIX: 'test-',
      HOURGLASS_HOST: '127.0.0.2',
    });
    assert.deepEqual(
      [o.maxBodyBytes, o.maxEventsPerRequest, o.maxEventBytes, o.retryAfterS, o.shutdownTimeoutMs, o.windowS, o.topicPrefix, o.host],
      [2048, 10, 4096, 7, 1500, 60, 'test-', '127.0.0.2'],
    );
  });

  it('reports every invalid variable in one error, naming each', () => {
    const { problems } = configError(() =>
      resolveGatewayOptions({
        HOURGLASS_MODE: 'prod',
        HOURGLASS_PORT: '70000',
        HOURGLASS_MAX_BODY_BYTES: '5MB',
        HOURGLASS_MAX_EVENTS_PER_REQUEST: '0',
        HOURGLASS_RETRY_AFTER_S: '-1',
        HOURGLASS_WINDOW_S: '7',
        HOURGLASS_GATEWAY_AUTH: 'maybe',
      }),
    );
    const all = problems.join('\n');
    for (const name of ['HOURGLASS_MODE', 'HOURGLASS_PORT', 'HOURGLASS_MAX_BODY_BYTES', 'HOURGLASS_MAX_EVENTS_PER_REQUEST', 'HOURGLASS_RETRY_AFTER_S', 'HOURGLASS_GATEWAY_AUTH']) {
      assert.match(all, new RegExp(name), `${name} is named`);
    }
    assert.match(all, /HOURGLASS_MODE="prod" is refused: must be one of local, cloud/);
    assert.match(all, /HOURGLASS_PORT="70000" is refused: must be an integer from 0 to 65535/);
    assert.match(all, /HOURGLASS_MAX_BODY_BYTES="5MB" is refused: must be an integer from 1024 to 268435456 \(bytes\) \(not a whole number\)/);
    assert.match(all, /HOURGLASS_GATEWAY_AUTH="maybe" is refused: must be true or false \(also 1\/0, on\/off, yes\/no\)/);
    assert.match(all, /HOURGLASS_WINDOW_S="7" is refused: .*\(does not divide a day\)/);
    assert.equal(problems.length, 7);
  });

  it('rejects weak or malformed tokens by position, without echoing them', () => {
    const short = 'short';
    const { message } = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_TOKENS: `${TOKEN_A},${short},tok with space xxxxxxxxxx` }));
    assert.match(message, /token #2 must be 16\.\.4096 characters long/);
    assert.match(message, /token #3 may only hold/);
    assert.doesNotMatch(message, new RegExp(short));
    assert.doesNotMatch(message, new RegExp(TOKEN_A));
  });

  it('a token may be named "name:token": the name is checked (and may be shared), a token may not appear twice', () => {
    const o = resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_TOKENS: `web-app:${TOKEN_A}\nweb-app:${TOKEN_B}\nios_app.v2:tok_cccccccccccccccccccc` });
    assert.deepEqual(o.tokens, [`web-app:${TOKEN_A}`, `web-app:${TOKEN_B}`, 'ios_app.v2:tok_cccccccccccccccccccc']);
    const { message, problems } = configError(() =>
      resolveGatewayOptions({ HOURGLASS_MODE: 'local', HOURGLASS_GATEWAY_TOKENS: [`Web:${TOKEN_A}`, `anonymous:${TOKEN_B}`, 'key-1:tok_cccccccccccccccccccc', `other:${TOKEN_A}`, ':tok_dddddddddddddddddddd'].join(',') }),
    );
    assert.match(message, /token #1: its name "Web" must match/);
    assert.match(message, /token #2: its name "anonymous" .* reserved/);
    assert.match(message, /token #3: its name "key-1" .* reserved/);
    assert.match(message, /token #4 is the same token as #1/);
    assert.match(message, /token #5: its name "" must match/);
    assert.equal(problems.length, 5);
    for (const token of [TOKEN_A, TOKEN_B, 'tok_cccc', 'tok_dddd']) assert.doesNotMatch(message, new RegExp(token), 'never a token');
  });

  it('validates overrides too', () => {
    const { message } = configError(() => resolveGatewayOptions({ HOURGLASS_MODE: 'local' }, { maxBodyBytes: 10, retryAfterS: 0.5 }));
    assert.match(message, /option maxBodyBytes=10 is refused: must be an integer from 1024 to 268435456 \(bytes\)/);
    assert.match(message, /option retryAfterS=0\.5 is refused: must be an integer from 1 to 3600 \(s\)/);
  });

  it('a token list (splitList, as HOURGLASS_GATEWAY_TOKENS is read) drops blanks and surrounding space', () => {
    assert.deepEqual(splitList(' a ,, b\r\nc\n'), ['a', 'b', 'c']);
    assert.deepEqual(splitList(''), []);
  });
});

describe('gateway process with an invalid configuration', () => {
  it('exits 2 with one JSON log line on stdout naming the problem, before touching Pub/Sub', () => {
    const main = new URL('../../services/gateway/main.ts', import.meta.url).pathname;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none', HOURGLASS_MODE: 'cloud', HOURGLASS_MAX_BODY_BYTES: 'lots' };
    const result = spawnSync(process.execPath, [main], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 2, `${result.stdout}${result.stderr}`);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 1, result.stdout);
    const entry = JSON.parse(lines[0]!) as { severity: string; level: string; service: string; event: string; code: string; error: string; problems: string[] };
    assert.deepEqual([entry.severity, entry.level, entry.service, entry.event], ['ERROR', 'error', 'gateway', 'gateway_config_invalid']);
    assert.equal(entry.code, 'HG_CONFIG_INVALID');
    assert.match(entry.error, /^gateway configuration: HOURGLASS_MAX_BODY_BYTES="lots" is refused: must be an integer from 1024/);
    // The cross-setting rules (here: cloud mode needs a keys file) run once every setting parses.
    assert.deepEqual(entry.problems.length, 1, entry.error);
  });
});
