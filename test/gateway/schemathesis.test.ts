// Schemathesis fuzzes a real gateway process (services/gateway/main.ts on the Pub/Sub emulator) from its OpenAPI document: no 5xx, no hang, every answer as documented, and nothing published from a refused request.
//
// Schemathesis (pinned below; installed by scripts/setup.sh into .cache/venv, or here if missing)
// generates requests from services/gateway/openapi.yaml — the examples, boundary cases of every
// parameter and body constraint, random valid and invalid data, and other methods — and checks each
// answer: not a server error, a documented status, Content-Type and headers, the body against the
// status's schema, invalid data refused, 405 with Allow for undocumented methods, 401 without the token.
// Its VCR cassette records every exchange: the events of the 200 answers must be exactly the events
// in Pub/Sub afterwards. Set HOURGLASS_FUZZ_SEED to replay a run (the seed is printed), and
// HOURGLASS_FUZZ_EXAMPLES with HOURGLASS_FUZZ_BUDGET_MS for a longer one.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { parseBatchAttributes } from '../../services/wire/batch-attributes.ts';
import { drainSubscription } from '../helpers/drain-subscription.ts';
import { ensurePythonVenv } from '../helpers/python.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = path.join(REPO_ROOT, 'node_modules/.bin/node');
const SPEC = path.join(REPO_ROOT, 'services/gateway/openapi.yaml');
const SCHEMATHESIS = 'schemathesis==4.32.5';
const TOKEN = 'schemathesis_fuzz_token_0123456789';
const CLIENT = 'fuzz';
/** Test cases per operation and phase (schemathesis's --max-examples); HOURGLASS_FUZZ_EXAMPLES for a longer hunt (raise RUN_BUDGET_MS with it). */
const MAX_EXAMPLES = Number(process.env.HOURGLASS_FUZZ_EXAMPLES ?? 1000);
/** One request may take this long; longer is a hang, and a failure. */
const REQUEST_TIMEOUT_S = 10;
/** The whole schemathesis run; past it the run is killed and the test fails. */
const RUN_BUDGET_MS = Number(process.env.HOURGLASS_FUZZ_BUDGET_MS ?? 150_000);

/** The checks that fit this API; positive_data_acceptance does not: a payload must match the type's Avro schema, which the document leaves to the registry, so generated "valid" bodies are refused (400). */
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
  'missing_required_header',
  'unsupported_method',
  'allow_header_conformance',
  'ignored_auth',
];

/**
 * schemathesis.toml. Invalid data may also be refused as too large (413: more events than maxItems),
 * which schemathesis's default list of rejection statuses lacks. Most drawn type names are the
 * registry's, so that most bodies reach the body and payload checks instead of stopping at 404.
 */
const config = (types: readonly string[]) => `
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

[dictionaries.types]
values = ${JSON.stringify(types)}

[parameters]
"path.type" = { dictionary = "types", probability = 0.8 }
`;

interface LogLine {
  readonly event?: unknown;
  readonly [field: string]: unknown;
}

interface Cassette {
  readonly http_interactions?: ReadonlyArray<{
    readonly request: { readonly uri: string; readonly method: string };
    readonly response?: { readonly status?: { readonly code?: unknown }; readonly body?: { readonly string?: unknown; readonly base64_string?: unknown } } | null;
  }>;
}

function run(command: string, args: readonly string[], options: { cwd: string; timeoutMs: number }): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

describe('schemathesis against a gateway process', () => {
  let registry: Registry;
  let stack: LocalStack;
  let gateway: ChildProcess | undefined;
  let work: string;
  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    work = await mkdtemp(path.join(os.tmpdir(), 'hg-schemathesis-'));
  });
  after(async () => {
    gateway?.kill('SIGKILL');
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Starts services/gateway/main.ts; resolves with its URL and publisher id from the gateway_listening line. */
  const startGatewayProcess = (): Promise<{ url: string; publisher: string; lines: LogLine[]; stderr: () => string }> => {
    const child = spawn(NODE, [path.join(REPO_ROOT, 'services/gateway/main.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        METADATA_SERVER_DETECTION: 'none',
        PUBSUB_EMULATOR_HOST: stack.pubsub.host,
        HOURGLASS_PROJECT: stack.pubsub.projectId,
        HOURGLASS_MODE: 'local',
        HOURGLASS_HOST: '127.0.0.1',
        HOURGLASS_PORT: '0',
        HOURGLASS_OPS_PORT: '0',
        HOURGLASS_GATEWAY_TOKENS: `${CLIENT}:${TOKEN}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway = child;
    const lines: LogLine[] = [];
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (raw) => {
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          line = { raw };
        }
        lines.push(line);
        if (line.event === 'gateway_listening') resolve({ url: String(line.url), publisher: String(line.publisher), lines, stderr: () => stderr });
      });
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before listening:\n${stderr}\n${JSON.stringify(lines)}`)));
    });
  };

  it('finds no server error, no hang and no answer the document does not allow; a refused request publishes nothing', { timeout: RUN_BUDGET_MS + 90_000 }, async () => {
    const python = await ensurePythonVenv({ packages: [SCHEMATHESIS] });
    const schemathesis = path.join(path.dirname(python), 'schemathesis');
    // A subscription of our own on every type's topic, made before the first request, so every published message is kept.
    const subscriptions = new Map<string, string>();
    for (const type of registry.names()) {
      const name = `schemathesis-${type}`;
      await stack.client.topic(stack.names.eventTopic(type)).createSubscription(name);
      subscriptions.set(type, name);
    }
    const started = await startGatewayProcess();

    const configFile = path.join(work, 'schemathesis.toml');
    await writeFile(configFile, config(registry.names()));
    const cassette = path.join(work, 'cassette.yaml');
    const seed = process.env.HOURGLASS_FUZZ_SEED;
    const args = [
      '--config-file',
      configFile,
      'run',
      SPEC,
      '--url',
      started.url,
      '--header',
      `Authorization: Bearer ${TOKEN}`,
      '--checks',
      CHECKS.join(','),
      '--max-examples',
      String(MAX_EXAMPLES),
      '--request-timeout',
      String(REQUEST_TIMEOUT_S),
      '--workers',
      '2',
      '--generation-database',
      'none',
      '--report',
      'vcr',
      '--report-vcr-path',
      cassette,
      '--no-color',
      ...(seed ? ['--seed', seed] : []),
    ];
    const startedAt = Date.now();
    // cwd: a scratch directory, so nothing schemathesis or hypothesis writes lands in the repository.
    const result = await run(schemathesis, args, { cwd: work, timeoutMs: RUN_BUDGET_MS });
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    console.log(result.output);
    assert.ok(!result.timedOut, `schemathesis did not finish within ${RUN_BUDGET_MS / 1000} s`);

    const summary = parseSummary(result.output);
    console.log(`schemathesis: ${summary.cases} cases, ${summary.operations} operations, ${summary.failures} failures (${seconds} s)`);
    assert.equal(result.code, 0, `schemathesis failed (exit ${result.code}); its report is above`);
    assert.equal(summary.failures, 0);
    assert.ok(summary.cases > 100, `schemathesis generated ${summary.cases} test cases`);
    assert.equal(summary.operations, 2);

    // Every exchange had an answer (a request that timed out has none), and the events of the 200s are what Pub/Sub holds.
    const recorded = parse(await readFile(cassette, 'utf8')) as Cassette;
    const interactions = recorded.http_interactions ?? [];
    assert.ok(interactions.length >= summary.cases, `the cassette holds ${interactions.length} exchanges`);
    let accepted = 0;
    let accepting = 0;
    const statuses = new Map<string, number>();
    for (const exchange of interactions) {
      const status = String(exchange.response?.status?.code ?? 'no answer');
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(exchange.response, `no answer to ${exchange.request.method} ${exchange.request.uri}`);
      if (status !== '200' || exchange.request.method !== 'POST') continue;
      const body = exchange.response.body?.string ?? Buffer.from(String(exchange.response.body?.base64_string ?? ''), 'base64').toString('utf8');
      const count = (JSON.parse(String(body)) as { accepted?: unknown }).accepted;
      assert.ok(Number.isSafeInteger(count), `a 200 without a count: ${String(body)}`);
      accepted += count as number;
      accepting++;
    }
    console.log(`schemathesis: answers by status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ${accepting} accepted requests, ${accepted} events`);

    let published = 0;
    for (const [type, subscription] of subscriptions) {
      for (const message of await drainSubscription(stack.client, subscription, { quietMs: 1000 })) {
        const attributes = parseBatchAttributes(message.attributes);
        assert.ok(attributes.ok, `a message on ${type}'s topic that is not a batch: ${JSON.stringify(message.attributes)}`);
        assert.equal(attributes.value.publisher, started.publisher);
        published += attributes.value.count;
      }
    }
    assert.equal(published, accepted, 'the events in Pub/Sub are exactly those of the 200 answers: nothing from a refused request');
    const failed = started.lines.filter((l) => l.event === 'request_failed');
    assert.deepEqual(failed, [], 'the gateway logged no server-side failure');
  });
});

/** Test cases, operations, and failures plus errors (a timeout is an error) from schemathesis's closing summary. */
function parseSummary(output: string): { cases: number; operations: number; failures: number } {
  const cases = /^Test cases:\s*\n\s*(\d+) generated/m.exec(output);
  const operations = /^API Operations:\s*\n\s*Selected: (\d+)\//m.exec(output);
  // The closing banner: "No issues found in 4.51s", or e.g. "2 failures, 1 error in 3.20s".
  const banner = /^=+ (.+) in [\d.]+s =+$/m.exec(output)?.[1] ?? '';
  const failures = [...banner.matchAll(/(\d+) (?:failures?|errors?)\b/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(cases && operations && banner, `schemathesis's summary was not found in its output`);
  return { cases: Number(cases[1]), operations: Number(operations[1]), failures: banner.startsWith('No issues') ? failures : Math.max(failures, 1) };
}
