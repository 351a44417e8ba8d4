// The shared logger (services/telemetry/logger.ts): one JSON object per line in Cloud Logging's shape, Errors written one
// way, secrets redacted, the active span's trace on the line, warnings and errors counted, stdout written synchronously.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { context, metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { AlwaysOffSampler, AlwaysOnSampler, StackContextManager, TracerProvider } from '@opentelemetry/sdk-trace';
import { gatewayLogger, silentLogger as gatewaySilentLogger } from '../../services/gateway/log.ts';
import { createLogger, REDACTED, silentLogger, type LoggerOptions } from '../../services/telemetry/logger.ts';

type Line = Record<string, unknown>;

/** A logger whose lines are kept (raw and parsed). */
function capture(service = 'test', options: Omit<LoggerOptions, 'write'> = {}) {
  const raw: string[] = [];
  const logger = createLogger(service, { ...options, write: (line) => void raw.push(line) });
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l) as Line) };
}

const TRACE_KEYS = ['logging.googleapis.com/trace', 'logging.googleapis.com/spanId', 'logging.googleapis.com/trace_sampled'];

describe('createLogger: the line', () => {
  it('is one JSON object per line: severity, level, time (ISO-8601), service, event, the fields, message', () => {
    const { logger, raw, lines } = capture('gateway', { level: 'debug' });
    const before = Date.now();
    logger.log('debug', 'cache_warmed', { entries: 3 });
    logger.info('gateway_listening', { url: 'http://127.0.0.1:1', types: ['a', 'b'] });
    logger.warn('keys_reload_failed', { code: 'HG_CONFIG_INVALID' });
    logger.error('gateway_failed', { nested: { a: 1 } });
    assert.equal(raw.length, 4);
    for (const line of raw) assert.match(line, /^\{[^\n]*\}\n$/, 'one object, one newline');
    const parsed = lines();
    assert.deepEqual(
      parsed.map((l) => [l.severity, l.level, l.service, l.event, l.message]),
      [
        ['DEBUG', 'debug', 'gateway', 'cache_warmed', 'cache_warmed'],
        ['INFO', 'info', 'gateway', 'gateway_listening', 'gateway_listening'],
        ['WARNING', 'warn', 'gateway', 'keys_reload_failed', 'keys_reload_failed'],
        ['ERROR', 'error', 'gateway', 'gateway_failed', 'gateway_failed'],
      ],
    );
    for (const l of parsed) {
      assert.equal(typeof l.time, 'string');
      assert.equal(new Date(l.time as string).toISOString(), l.time, 'time is ISO-8601');
      assert.ok(Date.parse(l.time as string) >= before - 1000 && Date.parse(l.time as string) <= Date.now() + 1000);
      assert.deepEqual(Object.keys(l).slice(0, 5), ['severity', 'level', 'time', 'service', 'event']);
      for (const key of TRACE_KEYS) assert.ok(!(key in l), `no ${key} outside a span`);
    }
    assert.deepEqual([parsed[0]!.entries, parsed[1]!.url, parsed[1]!.types, parsed[2]!.code, parsed[3]!.nested], [3, 'http://127.0.0.1:1', ['a', 'b'], 'HG_CONFIG_INVALID', { a: 1 }]);
  });

  it('takes `message` from a string message field, and never writes a key twice', () => {
    const { logger, raw, lines } = capture();
    logger.info('gateway_listening', { message: 'gateway listening', url: 'u' });
    logger.info('odd_fields', { message: { not: 'text' }, level: 'loud', severity: 'X', time: 1, service: 's', event: 'e' });
    const [listening, odd] = lines();
    assert.deepEqual([listening!.event, listening!.message, listening!.url], ['gateway_listening', 'gateway listening', 'u']);
    assert.deepEqual([odd!.severity, odd!.level, odd!.service, odd!.event, odd!.message], ['INFO', 'info', 'test', 'odd_fields', 'odd_fields']);
    assert.deepEqual([odd!.message_field, odd!.level_field, odd!.severity_field, odd!.time_field, odd!.service_field, odd!.event_field], [{ not: 'text' }, 'loud', 'X', 1, 's', 'e']);
    for (const line of raw) {
      const keys = [...line.matchAll(/"([^"]+)":/g)].map((m) => m[1]).filter((k) => !k!.includes(' '));
      const top = Object.keys(JSON.parse(line) as Line);
      assert.equal(new Set(top).size, top.length);
      for (const key of top) assert.equal(keys.filter((k) => k === key).length, 1, `"${key}" once in ${line}`);
    }
  });

  it('drops lines below its level (default info)', () => {
    const byDefault = capture();
    byDefault.logger.log('debug', 'hidden');
    byDefault.logger.info('shown');
    assert.deepEqual(byDefault.lines().map((l) => l.event), ['shown']);
    const { logger, raw } = capture('test', { level: 'warn' });
    logger.log('debug', 'a');
    logger.info('b');
    logger.warn('c');
    logger.error('d');
    assert.deepEqual(raw.map((l) => (JSON.parse(l) as Line).event), ['c', 'd']);
  });

  it('gateway/log.ts exports the shared silentLogger', () => {
    assert.equal(gatewaySilentLogger, silentLogger);
    for (const l of [silentLogger, gatewaySilentLogger]) {
      l.info('x');
      l.error('y', { error: new Error('z') });
    }
  });
});

describe('createLogger: errors', () => {
  it('writes an Error in any field as name, message, code, stack and its cause chain, 3 causes deep', () => {
    const { logger, lines } = capture();
    const root = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    let err: Error = root;
    for (let i = 1; i <= 4; i++) err = new Error(`layer ${i}`, { cause: err });
    const typed = Object.assign(new TypeError('bad input'), { code: 'HG_CONFIG_INVALID' });
    logger.error('gateway_failed', { error: err, err: typed, note: 'plain', withValueCause: new Error('outer', { cause: { status: 503 } }) });
    const line = lines()[0]!;
    type Described = { name: string; message: string; code?: string; stack: string; cause?: Described };
    const chain: Described[] = [];
    for (let d: Described | undefined = line.error as Described; d; d = d.cause) chain.push(d);
    assert.deepEqual(chain.map((d) => d.message), ['layer 4', 'layer 3', 'layer 2', 'layer 1'], 'the error and 3 causes; deeper ones are left out');
    for (const d of chain) {
      assert.equal(d.name, 'Error');
      assert.match(d.stack, new RegExp(`^Error: ${d.message}\\n\\s+at `));
      assert.deepEqual(Object.keys(d).filter((k) => k !== 'cause'), ['name', 'message', 'stack']);
    }
    // `err` too (pino has a serializer of its own for that name).
    assert.deepEqual(line.err, { name: 'TypeError', message: 'bad input', code: 'HG_CONFIG_INVALID', stack: typed.stack });
    assert.equal(line.note, 'plain');
    assert.deepEqual((line.withValueCause as { cause: unknown }).cause, { status: 503 });

    const { logger: two, lines: twoLines } = capture();
    two.error('x', { error: new Error('a', { cause: root }) });
    assert.deepEqual((twoLines()[0]!.error as Described).cause, { name: 'Error', message: 'socket hang up', code: 'ECONNRESET', stack: root.stack });
  });

  it('the gateway logger is the shared logger with service "gateway": same envelope, same Error shape', () => {
    const raw: string[] = [];
    gatewayLogger({ write: (l) => void raw.push(l) }).error('gateway_config_invalid', { code: 'HG_CONFIG_INVALID', error: new Error('bad', { cause: new Error('worse') }) });
    const line = JSON.parse(raw[0]!) as Line;
    assert.deepEqual([line.severity, line.level, line.service, line.event, line.message, line.code], ['ERROR', 'error', 'gateway', 'gateway_config_invalid', 'gateway_config_invalid', 'HG_CONFIG_INVALID']);
    const error = line.error as { name: string; message: string; cause: { message: string } };
    assert.deepEqual([error.name, error.message, error.cause.message], ['Error', 'bad', 'worse']);
  });
});

describe('createLogger: secrets', () => {
  it('redacts fields named like secrets, at the top level and nested (objects and arrays), and leaves the caller\'s objects alone', () => {
    const { logger, raw, lines } = capture();
    const fields = {
      authorization: 'Bearer tok_top',
      token: 'tok_token',
      tokens: ['tok_a', 'tok_b'],
      password: 'hunter2',
      secret: { value: 'tok_obj' },
      headers: { authorization: 'Bearer tok_hdr', Authorization: 'Bearer tok_HDR', cookie: 'sid=tok_cookie', 'content-type': 'application/json' },
      request: { headers: { authorization: 'Bearer tok_deep' }, path: '/v1/events/x' },
      clients: [{ name: 'a', token: 'tok_arr' }],
      keys: { file: '/secrets/tok_keyfile' },
      path: '/keys.json',
    };
    logger.warn('suspicious', fields);
    logger.info('keys_reloaded', { path: '/keys.json', keys: 3, clients: 2 });
    const [line, counts] = lines();
    assert.deepEqual(
      [line!.authorization, line!.token, line!.tokens, line!.password, line!.secret, line!.keys],
      [REDACTED, REDACTED, REDACTED, REDACTED, REDACTED, REDACTED],
    );
    assert.deepEqual(line!.headers, { authorization: REDACTED, Authorization: REDACTED, cookie: REDACTED, 'content-type': 'application/json' });
    assert.deepEqual(line!.request, { headers: { authorization: REDACTED }, path: '/v1/events/x' });
    assert.deepEqual(line!.clients, [{ name: 'a', token: REDACTED }]);
    assert.equal(line!.path, '/keys.json');
    assert.doesNotMatch(raw.join(''), /tok_|hunter2/, 'no secret anywhere in the output');
    assert.deepEqual([counts!.keys, counts!.clients], [3, 2], 'a count under a secret name is kept');
    assert.equal(fields.headers.authorization, 'Bearer tok_hdr', 'the caller\'s object is not changed');
    assert.equal(fields.request.headers.authorization, 'Bearer tok_deep');
  });
});

describe('createLogger: trace', () => {
  const manager = new StackContextManager();
  before(() => {
    context.setGlobalContextManager(manager.enable());
  });
  after(() => {
    context.disable();
  });

  it('inside an active span the line has Cloud Logging\'s trace, spanId and trace_sampled; outside it has none', () => {
    const tracer = new TracerProvider({ sampler: new AlwaysOnSampler() }).getTracer('test');
    const withProject = capture('worker', { project: 'proj-1' });
    const bare = capture('worker'); // no project: the bare trace id (services pass their configured project)
    let ids = { traceId: '', spanId: '' };
    tracer.startActiveSpan('deliver', (span) => {
      ids = span.spanContext();
      for (const c of [withProject, bare]) c.logger.info('batch_written', { n: 1 });
      span.end();
    });
    for (const c of [withProject, bare]) c.logger.info('after_span');
    assert.match(ids.traceId, /^[0-9a-f]{32}$/);
    const expected = [`projects/proj-1/traces/${ids.traceId}`, ids.traceId];
    for (const [i, c] of [withProject, bare].entries()) {
      const [inside, outside] = c.lines();
      assert.equal(inside!['logging.googleapis.com/trace'], expected[i]);
      assert.equal(inside!['logging.googleapis.com/spanId'], ids.spanId);
      assert.equal(inside!['logging.googleapis.com/trace_sampled'], true);
      assert.deepEqual([inside!.event, inside!.n], ['batch_written', 1]);
      for (const key of TRACE_KEYS) assert.ok(!(key in outside!), `no ${key} after the span`);
    }
  });

  it('says trace_sampled false for a span that is not sampled', () => {
    const tracer = new TracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('test');
    const { logger, lines } = capture('checker', { project: 'p' });
    tracer.startActiveSpan('close', (span) => {
      logger.warn('window_overdue');
      span.end();
    });
    const [line] = lines();
    assert.equal(line!['logging.googleapis.com/trace_sampled'], false);
    assert.match(String(line!['logging.googleapis.com/trace']), /^projects\/p\/traces\/[0-9a-f]{32}$/);
  });
});

describe('createLogger: failures counter', () => {
  class Reader extends MetricReader {
    protected override async onShutdown(): Promise<void> {}
    protected override async onForceFlush(): Promise<void> {}
  }
  const reader = new Reader();
  const provider = new MeterProvider({ readers: [reader] });
  before(() => void metrics.setGlobalMeterProvider(provider));
  after(async () => {
    metrics.disable();
    await provider.shutdown();
  });

  it('counts every warning and error as hourglass.failures by service, event and level, even below the logger\'s level', async () => {
    const { logger } = capture('worker');
    const quiet = capture('checker', { level: 'error' });
    logger.warn('ack_failed');
    logger.warn('ack_failed');
    logger.error('pull_failed');
    logger.info('batch_written');
    logger.log('debug', 'noise');
    quiet.logger.warn('window_overdue');
    assert.equal(quiet.raw.length, 0, 'the warning is below the level: not written');
    const { resourceMetrics } = await reader.collect();
    const failures = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'hourglass.failures');
    assert.ok(failures && failures.dataPointType === DataPointType.SUM);
    const counted = Object.fromEntries(failures.dataPoints.map((p) => [`${String(p.attributes.service)}/${String(p.attributes.event)}/${String(p.attributes.level)}`, p.value]));
    assert.deepEqual(counted, { 'worker/ack_failed/warn': 2, 'worker/pull_failed/error': 1, 'checker/window_overdue/warn': 1 });
  });
});

describe('createLogger: stdout', () => {
  const logger = new URL('../../services/telemetry/logger.ts', import.meta.url).pathname;
  /** Runs a child that logs `n` lines and then ends with `end`; returns what it wrote to stdout, by line. */
  const run = (n: number, end: string) => {
    const script = [
      `import { createLogger } from ${JSON.stringify(logger)};`,
      `const log = createLogger('exiting');`,
      `for (let i = 0; i < ${n}; i++) log.info('line_written', { i, pad: 'x'.repeat(200) });`,
      end,
    ].join('\n');
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH } });
    return { result, lines: result.stdout.split('\n').filter((l) => l !== '') };
  };

  it('writes synchronously: a process that exits right after logging loses no line', () => {
    const { result, lines } = run(5000, 'process.exit(0);');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(lines.length, 5000, 'every line reached stdout before the exit');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Line).i), Array.from({ length: 5000 }, (_, i) => i));
  });

  it('writes synchronously: a process killed (SIGKILL) right after logging loses no line either', () => {
    const { result, lines } = run(3, "process.kill(process.pid, 'SIGKILL');");
    assert.equal(result.signal, 'SIGKILL', result.stderr);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Line).i), [0, 1, 2], 'the lines were out before the kill');
  });
});
