// Shared by the gateway tests: an HTTP helper, the error-body assertions (code, message, no stack trace), and stub publishers.
import assert from 'node:assert/strict';
import type { GatewayPublisher } from '../../services/gateway/app.ts';
import type { PublisherStats } from '../../services/sdk/index.ts';

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body (undefined when it is not JSON). */
  readonly json: unknown;
}

export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** POSTs `body` (a value to JSON-encode, or a raw string) as application/json unless headers say otherwise. */
export function postEvents(baseUrl: string, type: string, body: unknown, headers: Record<string, string> = {}, query = ''): Promise<Answer> {
  return request(`${baseUrl}/v1/events/${type}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Things that betray a stack trace or the server's file layout. */
const LEAKS = [/\n\s*at /, /\bat [\w.<>]+ \(/, /\.ts:\d+/, /\.js:\d+/, /node_modules/, /\/work\//, /file:\/\//];

export function assertNoLeak(answer: Answer): void {
  for (const leak of LEAKS) assert.doesNotMatch(answer.text, leak, `response body leaks internals: ${answer.text.slice(0, 500)}`);
}

export interface ErrorBodyShape {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly details?: unknown;
}

/** Asserts an error answer: status, JSON content type, code, a message matching `message`, and no leak. Returns the error object. */
export function assertError(answer: Answer, status: number, code: string, message?: RegExp): ErrorBodyShape {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${answer.text.slice(0, 500)}`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const error = (answer.json as { error?: ErrorBodyShape } | undefined)?.error;
  assert.ok(error, `no {"error": ...} in ${answer.text.slice(0, 500)}`);
  assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  if (message) assert.match(error.message, message);
  assertNoLeak(answer);
  return error;
}

/** Polls `probe` until it holds (no timing assertion: only a generous cap so a broken test ends). */
export async function eventually(what: string, probe: () => boolean | Promise<boolean>, capMs = 30_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ZERO_STATS: PublisherStats = {
  bufferedBytes: 0,
  peakBufferedBytes: 0,
  bufferedEvents: 0,
  inFlightMessages: 0,
  acceptedEvents: 0,
  acknowledgedEvents: 0,
  failedEvents: 0,
  failedAttempts: 0,
  heartbeatsSent: 0,
};

/** One publishMany call as the stub saw it: the scope is the client the gateway authenticated. */
export interface StubCall {
  readonly type: string;
  readonly count: number;
  readonly version?: number;
  readonly scope?: string;
}

/** A publisher stand-in for app-level tests: records calls, and does what `publishMany` says (default: accept). */
export function stubPublisher(overrides: Partial<GatewayPublisher> = {}): GatewayPublisher & { calls: StubCall[]; closed: number } {
  const stub = {
    id: 'stub-publisher',
    calls: [] as StubCall[],
    closed: 0,
    publishMany: async () => undefined,
    wouldBlock: () => false,
    isHealthy: () => true,
    stats: () => ZERO_STATS,
    flush: async () => undefined,
    close: async () => {
      stub.closed++;
    },
    ...overrides,
  };
  const publishMany = stub.publishMany as GatewayPublisher['publishMany'];
  stub.publishMany = ((type: string, items: readonly unknown[], options: { version?: number; eventIdScope?: string } = {}) => {
    stub.calls.push({ type, count: items.length, ...(options.version === undefined ? {} : { version: options.version }), ...(options.eventIdScope === undefined ? {} : { scope: options.eventIdScope }) });
    return publishMany(type, items as never, options);
  }) as never;
  return stub;
}
