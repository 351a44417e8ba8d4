// The gateway's OpenAPI document (services/gateway/openapi.yaml) against the gateway itself: a document whose schemas compile and refs resolve, the same routes as the app, every catalogue code the route can raise documented at its status, and every documented answer of POST /v1/events/{type} provoked on a real gateway (real Publisher, Pub/Sub emulator) and validated against the document.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import type { Express } from 'express';
import { ERROR_CATALOGUE, type ErrorCode } from '../../services/errors/catalogue.ts';
import { createGatewayApp, createOpsApp, type GatewayPublisher } from '../../services/gateway/app.ts';
import { parseKeysDocument } from '../../services/gateway/client-keys.ts';
import { resolveGatewayOptions, type GatewayOptions } from '../../services/gateway/gateway-options.ts';
import { GatewayLifecycle } from '../../services/gateway/lifecycle.ts';
import { silentLogger } from '../../services/gateway/log.ts';
import { loadOpenApiDocument } from '../../services/gateway/openapi.ts';
import { startGateway, type RunningGateway } from '../../services/gateway/server.ts';
import { emulatorClient, startLocalStack, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { Registry } from '../../services/registry/registry.ts';
import { Publisher, type PublisherOptions } from '../../services/sdk/index.ts';
import { topicNames } from '../../services/wire/topics.ts';
import { searchPerformed, trackPlayed } from '../helpers/sample-events.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { eventually, postEvents, request, stubPublisher, type Answer } from './gateway-kit.ts';

type Json = Record<string, unknown>;

const EVENTS_PATH = '/v1/events/{type}';
const DOC_ID = 'https://hourglass.invalid/gateway/openapi.json';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Every catalogue code, sorted by whether an answer of POST /v1/events/{type} can carry it. A new
 * code fails this test until it is put in one list (and, when it can reach the route, documented).
 */
const ROUTE_CODES: readonly ErrorCode[] = [
  'HG_UNKNOWN_TYPE',
  'HG_UNKNOWN_VERSION',
  'HG_INVALID_EVENT',
  'HG_EVENT_TOO_LARGE',
  'HG_BODY_TOO_LARGE',
  'HG_BAD_CONTENT_TYPE',
  'HG_BAD_REQUEST',
  'HG_UNAUTHORIZED',
  'HG_FORBIDDEN_TYPE',
  'HG_BACKPRESSURE',
  'HG_OVER_QUOTA',
  'HG_PUBSUB_UNAVAILABLE',
  'HG_PUBLISH_FAILED',
  'HG_PUBLISHER_CLOSED',
  // The SDK's event-id scope check (services/sdk/event-id-scope.ts): client names are checked when keys load, so only a bug gets here (500).
  'HG_CONFIG_INVALID',
  'HG_NO_ROUTE',
  'HG_METHOD_NOT_ALLOWED',
  'HG_SHUTTING_DOWN',
  'HG_INTERNAL',
];
const OFF_ROUTE_CODES: Readonly<Partial<Record<ErrorCode, string>>> = {
  HG_REGISTRY_BAD_NAME: 'the registry is loaded before the gateway listens',
  HG_REGISTRY_BAD_FILE: 'the registry is loaded before the gateway listens',
  HG_REGISTRY_INCOMPATIBLE: 'the registry is loaded before the gateway listens',
  HG_CLOSE_TIMEOUT: 'raised by Publisher.close(), which no request calls',
  HG_STORAGE_EXISTS: 'the gateway never touches storage',
  HG_STORAGE_NOT_FOUND: 'the gateway never touches storage',
  HG_STORAGE_BAD_KEY: 'the gateway never touches storage',
  HG_STORAGE_UNAVAILABLE: 'the gateway never touches storage',
  HG_STORAGE_RATE_LIMITED: 'the gateway never touches storage',
  HG_STORAGE_BAD_LOCATION: 'the gateway never touches storage',
};
/** Documented codes no test below provokes, and why. */
const NOT_PROVOKED: Readonly<Partial<Record<ErrorCode, string>>> = {
  HG_CONFIG_INVALID: 'only a bug could raise it on a request (client names are validated when the keys load)',
};

// --- the document, and ajv over it --------------------------------------------------------------

/** A JSON pointer (RFC 6901) from its segments, as a URI fragment. */
function pointer(segments: readonly string[]): string {
  return segments.map((s) => `/${encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))}`).join('');
}

function resolvePointer(doc: unknown, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local refs are used: ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

/** An OpenAPI object that may be a Reference Object, followed to what it names (with the pointer of where it lives). */
function deref(doc: Json, node: unknown, at: readonly string[]): { node: Json; at: string[] } {
  let current = node as Json;
  let where = [...at];
  for (let hops = 0; typeof current?.$ref === 'string'; hops++) {
    assert.ok(hops < 10, `a $ref cycle at ${pointer(at)}`);
    const ref = current.$ref as string;
    const target = resolvePointer(doc, ref);
    assert.ok(target !== undefined, `$ref ${ref} does not resolve`);
    where = ref
      .slice(2)
      .split('/')
      .map((s) => decodeURIComponent(s).replaceAll('~1', '/').replaceAll('~0', '~'));
    current = target as Json;
  }
  return { node: current, at: where };
}

/** Every string of the document under a `$ref` key, with where it is. */
function allRefs(node: unknown, at: string[] = [], out: Array<{ ref: string; at: string }> = []): Array<{ ref: string; at: string }> {
  if (Array.isArray(node)) node.forEach((child, i) => allRefs(child, [...at, String(i)], out));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref') out.push({ ref: String(child), at: pointer(at) });
      else allRefs(child, [...at, key], out);
    }
  }
  return out;
}

/** The pointers of every Schema Object the document holds: components.schemas, and `schema` of parameters, media types and headers. */
function schemaLocations(doc: Json): string[][] {
  const out: string[][] = [];
  for (const name of Object.keys((doc.components as Json | undefined)?.schemas ?? {})) out.push(['components', 'schemas', name]);
  const walk = (node: unknown, at: string[]) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'example' || key === 'examples') continue;
      if (at.length === 2 && at[0] === 'components' && at[1] === 'schemas') continue;
      if (key === 'schema' && typeof child === 'object') out.push([...at, key]);
      else walk(child, [...at, key]);
    }
  };
  walk(doc, []);
  return out;
}

/** Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) holding the whole document, so schemas compile by pointer and their $refs resolve within it. */
function documentAjv(doc: Json): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  formatsPlugin.default(ajv);
  // The document's own fields, and OpenAPI's annotations inside schemas: known, not validation keywords.
  ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs', 'discriminator', 'xml', 'example']);
  ajv.addSchema(structuredClone(doc), DOC_ID);
  return ajv;
}

interface DocumentedResponse {
  readonly node: Json;
  readonly at: string[];
}

class DocumentCheck {
  readonly doc: Json;
  readonly ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(doc: Json) {
    this.doc = doc;
    this.ajv = documentAjv(doc);
  }

  validator(at: readonly string[]): ValidateFunction {
    const ref = `${DOC_ID}#${pointer(at)}`;
    let validate = this.#validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.#validators.set(ref, validate);
    }
    return validate;
  }

  operation(docPath: string, method: string): Json {
    const op = (this.doc.paths as Json)[docPath] as Json | undefined;
    assert.ok(op?.[method], `${method.toUpperCase()} ${docPath} is not in the document`);
    return op[method] as Json;
  }

  statuses(docPath: string, method: string): string[] {
    return Object.keys(this.operation(docPath, method).responses as Json);
  }

  response(docPath: string, method: string, status: number): DocumentedResponse | undefined {
    const responses = this.operation(docPath, method).responses as Json;
    if (!Object.hasOwn(responses, String(status))) return undefined;
    return deref(this.doc, responses[String(status)], ['paths', docPath, method, 'responses', String(status)]);
  }

  /** True when an error body with `code` is what the document says `status` answers on the operation. */
  documentsCode(docPath: string, method: string, status: number, code: ErrorCode): boolean {
    const response = this.response(docPath, method, status);
    if (!response) return false;
    const body = { error: { code, message: 'x', retryable: ERROR_CATALOGUE[code].retryable } };
    return this.validator([...response.at, 'content', 'application/json', 'schema'])(body) === true;
  }

  /** Asserts that `answer` is one the document allows for the operation: status, required headers, media type and body. Returns the body. */
  assertConforms(answer: Answer, docPath: string, method: string): unknown {
    const label = `${method.toUpperCase()} ${docPath} → ${answer.status}`;
    const response = this.response(docPath, method, answer.status);
    assert.ok(response, `${label} is not documented (documented: ${this.statuses(docPath, method).join(', ')}): ${answer.text.slice(0, 300)}`);
    for (const [name, raw] of Object.entries((response.node.headers as Json | undefined) ?? {})) {
      const header = deref(this.doc, raw, [...response.at, 'headers', name]);
      const value = answer.headers.get(name);
      if (value === null) {
        assert.ok(header.node.required !== true, `${label}: the document requires the header ${name}`);
        continue;
      }
      const schemaType = (header.node.schema as Json | undefined)?.type;
      const typed = (schemaType === 'integer' || schemaType === 'number') && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      const validate = this.validator([...header.at, 'schema']);
      assert.ok(validate(typed), `${label}: header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(validate.errors)}`);
    }
    const content = response.node.content as Json | undefined;
    assert.ok(content, `${label}: the document gives the answer no content`);
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    assert.ok(Object.hasOwn(content, mediaType), `${label}: Content-Type ${mediaType} is not documented (${Object.keys(content).join(', ')})`);
    assert.notEqual(answer.json, undefined, `${label}: the body is not JSON: ${answer.text.slice(0, 300)}`);
    const validate = this.validator([...response.at, 'content', mediaType, 'schema']);
    assert.ok(validate(answer.json), `${label}: the body does not match the document: ${this.ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 500)}`);
    return answer.json;
  }
}

// --- the app's routes ---------------------------------------------------------------------------

interface AppRoute {
  readonly path: string;
  /** Lower-case methods; `*` for a catch-all (app.all: the 405 answer). */
  readonly methods: readonly string[];
}

const EVERY_METHOD = http.METHODS.map((m) => m.toLowerCase());

/** The routes an express 5 app registered (its router's layers with a route), paths in OpenAPI's `{param}` form. */
function appRoutes(app: Express): AppRoute[] {
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> } }).router.stack;
  const out: AppRoute[] = [];
  for (const layer of stack) {
    if (!layer.route) continue;
    const methods = Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]);
    const catchAll = EVERY_METHOD.every((m) => methods.includes(m));
    for (const p of [layer.route.path].flat()) {
      assert.equal(typeof p, 'string', `a route path that is not a string: ${String(p)}`);
      out.push({ path: p.replace(/:(\w+)/g, '{$1}'), methods: catchAll ? ['*'] : methods });
    }
  }
  return out;
}

function documentedOperations(doc: Json): string[] {
  return Object.entries(doc.paths as Json).flatMap(([p, item]) => HTTP_METHODS.filter((m) => Object.hasOwn(item as Json, m)).map((m) => `${m.toUpperCase()} ${p}`));
}

// --------------------------------------------------------------------------------------------------

describe('the OpenAPI document', () => {
  const doc = loadOpenApiDocument();
  const check = new DocumentCheck(doc);

  it('is an OpenAPI 3.1 document: every $ref resolves, every schema compiles (JSON Schema 2020-12), every example matches its schema', () => {
    assert.equal(doc.openapi, '3.1.0');
    const info = doc.info as Json;
    assert.equal(typeof info.title, 'string');
    assert.equal(typeof info.version, 'string');
    assert.equal(loadOpenApiDocument(), doc, 'loaded once and cached');

    const refs = allRefs(doc);
    assert.ok(refs.length > 10);
    const broken = refs.filter(({ ref }) => resolvePointer(doc, ref) === undefined).map(({ ref, at }) => `${at}: ${ref}`);
    assert.deepEqual(broken, [], 'every $ref resolves');
    // A ref lands on the kind of object its place expects.
    for (const { ref, at } of refs) {
      const kind = /\/(parameters|requestBody|responses\/[^/]+|headers\/[^/]+|schema)$/.exec(at.replace(/\/\d+$/, ''))?.[1]?.split('/')[0];
      const expected = { parameters: 'parameters', requestBody: 'requestBodies', responses: 'responses', headers: 'headers', schema: 'schemas' }[kind ?? ''];
      if (expected) assert.ok(ref.startsWith(`#/components/${expected}/`), `${at}: ${ref} should name a component of components.${expected}`);
    }

    const locations = schemaLocations(doc);
    assert.ok(locations.length > 15, `found ${locations.length} schemas`);
    for (const at of locations) {
      assert.doesNotThrow(() => check.validator(at), `the schema at ${pointer(at)} compiles`);
    }

    const schemes = ((doc.components as Json).securitySchemes ?? {}) as Json;
    const operationIds = new Set<string>();
    for (const [docPath, item] of Object.entries(doc.paths as Json)) {
      assert.match(docPath, /^\//);
      for (const method of HTTP_METHODS) {
        const op = (item as Json)[method] as Json | undefined;
        if (!op) continue;
        const label = `${method.toUpperCase()} ${docPath}`;
        assert.equal(typeof op.operationId, 'string', `${label} has an operationId`);
        assert.ok(!operationIds.has(op.operationId as string), `operationId ${String(op.operationId)} is unique`);
        operationIds.add(op.operationId as string);
        // Path templating: each {name} is a required path parameter, and each path parameter is in the template.
        const params = ((op.parameters ?? []) as unknown[]).map((p, i) => deref(doc, p, ['paths', docPath, method, 'parameters', String(i)]).node);
        const templated = [...docPath.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        const declared = params.filter((p) => p.in === 'path').map((p) => String(p.name)).sort();
        assert.deepEqual(declared, templated, `${label}: path parameters`);
        for (const p of params) {
          assert.ok(['path', 'query', 'header', 'cookie'].includes(String(p.in)), `${label}: parameter ${String(p.name)} in ${String(p.in)}`);
          if (p.in === 'path') assert.equal(p.required, true, `${label}: path parameter ${String(p.name)} is required`);
          assert.ok(p.schema, `${label}: parameter ${String(p.name)} has a schema`);
        }
        for (const requirement of (op.security ?? doc.security ?? []) as Json[]) {
          for (const scheme of Object.keys(requirement)) assert.ok(Object.hasOwn(schemes, scheme), `${label}: security scheme ${scheme} is defined`);
        }
        const responses = op.responses as Json;
        assert.ok(Object.keys(responses).length > 0, `${label} has responses`);
        for (const [status, raw] of Object.entries(responses)) {
          assert.match(status, /^[1-5]\d\d$/, `${label}: status ${status}`);
          assert.equal(typeof deref(doc, raw, []).node.description, 'string', `${label} ${status} has a description`);
        }
        if (op.requestBody) {
          const body = deref(doc, op.requestBody, ['paths', docPath, method, 'requestBody']);
          for (const [mediaType, media] of Object.entries(body.node.content as Json)) {
            const example = (media as Json).example;
            if (example === undefined) continue;
            const validate = check.validator([...body.at, 'content', mediaType, 'schema']);
            assert.ok(validate(example), `${label}: the ${mediaType} example matches its schema: ${check.ajv.errorsText(validate.errors)}`);
          }
        }
      }
    }
    assert.deepEqual(Object.keys(schemes), ['bearerAuth']);
    assert.deepEqual(schemes.bearerAuth, { ...(schemes.bearerAuth as Json), type: 'http', scheme: 'bearer' });
    assert.deepEqual(check.operation('/openapi.json', 'get').security, [], 'the document itself needs no token');
  });

  it('its ErrorCode is the catalogue, and the Error schema refuses anything but {"error": {code, message, retryable, details?}}', () => {
    const errorCode = ((doc.components as Json).schemas as Json).ErrorCode as Json;
    assert.deepEqual([...(errorCode.enum as string[])].sort(), Object.keys(ERROR_CATALOGUE).sort());
    const validate = check.validator(['components', 'schemas', 'Error']);
    assert.ok(validate({ error: { code: 'HG_BAD_REQUEST', message: 'm', retryable: false } }));
    assert.ok(validate({ error: { code: 'HG_BAD_REQUEST', message: 'm', retryable: false, details: [{ any: 'thing' }] } }));
    for (const bad of [
      {},
      { error: { code: 'HG_NOT_A_CODE', message: 'm', retryable: false } },
      { error: { code: 'HG_BAD_REQUEST', message: 'm' } },
      { error: { code: 'HG_BAD_REQUEST', message: 'm', retryable: false, stack: 'at x' } },
      { error: { code: 'HG_BAD_REQUEST', message: 'm', retryable: false }, extra: 1 },
    ]) {
      assert.equal(validate(bad), false, `refused: ${JSON.stringify(bad)}`);
    }
  });

  it('documents every status (and code) the route can answer with: each catalogue code reaching it, at the catalogue\'s status', () => {
    const classified = [...ROUTE_CODES, ...Object.keys(OFF_ROUTE_CODES)].sort();
    assert.deepEqual(classified, Object.keys(ERROR_CATALOGUE).sort(), 'every catalogue code is classified once (ROUTE_CODES or OFF_ROUTE_CODES)');
    const undocumented = ROUTE_CODES.filter((code) => !check.documentsCode(EVENTS_PATH, 'post', ERROR_CATALOGUE[code].httpStatus, code)).map(
      (code) => `${code} (${ERROR_CATALOGUE[code].httpStatus})`,
    );
    assert.deepEqual(undocumented, [], `POST ${EVENTS_PATH} documents each code at its status`);
    // And the other way: no status or code is documented that the route cannot produce.
    for (const status of check.statuses(EVENTS_PATH, 'post').filter((s) => s !== '200')) {
      const codes = ROUTE_CODES.filter((code) => ERROR_CATALOGUE[code].httpStatus === Number(status));
      assert.ok(codes.length > 0, `status ${status} is documented but no code of the route answers with it`);
      const foreign = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).filter((code) => !codes.includes(code) && check.documentsCode(EVENTS_PATH, 'post', Number(status), code));
      assert.deepEqual(foreign, [], `status ${status} admits only codes of that status the route can raise`);
    }
    // Retry-After is sent with every 429 and 503 (error-response.ts): the document requires it there.
    for (const status of [429, 503]) {
      const headers = check.response(EVENTS_PATH, 'post', status)!.node.headers as Json;
      assert.equal(deref(doc, headers['Retry-After'], []).node.required, true, `${status} requires Retry-After`);
    }
  });

  it('names the same routes as the app: every registered route is documented, every documented operation is a route, the ops routes are not here', async () => {
    const registry = await Registry.load();
    const options = resolveGatewayOptions({}, { mode: 'local', port: 0 });
    const routes = appRoutes(createGatewayApp({ publisher: stubPublisher(), registry, options, logger: silentLogger }));
    const operations = routes.filter((r) => !r.methods.includes('*')).flatMap((r) => r.methods.map((m) => `${m.toUpperCase()} ${r.path}`));
    assert.deepEqual(operations.sort(), documentedOperations(doc).sort(), 'the app\'s routes are the document\'s operations');
    // A catch-all route answers 405 on a documented path, for the methods the path does not have.
    for (const route of routes.filter((r) => r.methods.includes('*'))) {
      assert.ok(Object.hasOwn(doc.paths as Json, route.path), `the 405 route ${route.path} is a documented path`);
      for (const method of HTTP_METHODS.filter((m) => Object.hasOwn((doc.paths as Json)[route.path] as Json, m))) {
        const response = check.response(route.path, method, 405);
        assert.ok(response, `${method.toUpperCase()} ${route.path} documents the 405 its path answers to other methods`);
        assert.ok(Object.hasOwn((response.node.headers ?? {}) as Json, 'Allow'), `${route.path}: 405 documents Allow`);
      }
    }
    const opsRoutes = appRoutes(createOpsApp({ publisher: stubPublisher(), options, lifecycle: new GatewayLifecycle() }));
    assert.ok(opsRoutes.length > 0);
    for (const route of opsRoutes) assert.ok(!Object.hasOwn(doc.paths as Json, route.path), `${route.path} is on the ops port, not in the public document`);
  });
});

describe('the gateway answers as its OpenAPI document says (real Publisher on the Pub/Sub emulator)', () => {
  const doc = loadOpenApiDocument();
  const check = new DocumentCheck(doc);
  const TOKEN = 'conformance_token_0123456789';
  const SEARCH_ONLY = 'conformance_search_only_0123';
  const TRICKLE = 'conformance_trickle_0123456789';
  const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

  let registry: Registry;
  let stack: LocalStack;
  let proxy: TcpProxy;
  let main: RunningGateway;
  const cleanups: Array<() => Promise<unknown>> = [];
  /** Every (status, code) the gateway answered POST /v1/events/{type} with, for the coverage check at the end. */
  const seen = new Map<number, Set<string>>();

  /** Validates an answer of POST /v1/events/{type} against the document, checks its code, and records it. */
  const expectAnswer = (answer: Answer, status: number, code?: ErrorCode): unknown => {
    assert.equal(answer.status, status, `expected ${status}${code ? ` ${code}` : ''}, got ${answer.status}: ${answer.text.slice(0, 400)}`);
    const body = check.assertConforms(answer, EVENTS_PATH, 'post');
    if (code) assert.equal((body as { error: { code: string } }).error.code, code);
    if (!seen.has(status)) seen.set(status, new Set());
    seen.get(status)!.add(code ?? '');
    return body;
  };

  /** A gateway on 127.0.0.1:0 with a real Publisher on its own emulator client (direct or through the proxy). */
  const start = async (
    opts: { publisher?: Partial<Omit<PublisherOptions, 'registry' | 'pubsub'>>; gateway?: Partial<GatewayOptions>; viaProxy?: boolean; keys?: string } = {},
  ): Promise<{ gateway: RunningGateway; publisher: Publisher }> => {
    const client: PubSub = emulatorClient(opts.viaProxy ? proxy.address : stack.pubsub.host, stack.pubsub.projectId);
    const publisher = new Publisher({ registry, pubsub: client, origin: 'gateway', ...opts.publisher });
    let keys;
    let keysFile;
    if (opts.keys !== undefined) {
      // The options want the keys' source; the ring is handed to the gateway as main.ts does with the file's.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-openapi-keys-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      keysFile = path.join(dir, 'keys.json');
      await writeFile(keysFile, opts.keys);
      const ring = parseKeysDocument(opts.keys, (t) => registry.get(t) !== undefined).ring;
      keys = () => ring;
    }
    const options = resolveGatewayOptions({}, { mode: 'local', port: 0, keysFile, ...opts.gateway });
    const gateway = await startGateway({ publisher, registry, options, logger: silentLogger, ...(keys ? { keys } : {}) });
    cleanups.push(async () => {
      await gateway.close();
      await client.close();
    });
    return { gateway, publisher };
  };

  before(async () => {
    registry = await Registry.load();
    stack = await startLocalStack({ registry });
    proxy = await startTcpProxy(stack.pubsub.host);
    const big = { eventsPerS: 1_000_000, bytesPerS: 1e9 };
    const keys = JSON.stringify({
      clients: [
        { client: 'conformance', keys: [TOKEN], types: ['*'], quota: big },
        { client: 'searcher', keys: [SEARCH_ONLY], types: ['search_performed'], quota: big },
        { client: 'trickle', keys: [TRICKLE], types: ['*'], quota: { eventsPerS: 1, bytesPerS: 1e6, burstS: 1 } },
      ],
    });
    ({ gateway: main } = await start({ keys, gateway: { maxBodyBytes: 64 * 1024 }, publisher: { maxEventBytes: 2048 } }));
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await proxy?.close();
    await stack?.stop();
  });

  it('GET /openapi.json: the document itself, without a token; other methods 405', async () => {
    const res = await request(`${main.url}/openapi.json`);
    assert.equal(res.status, 200);
    check.assertConforms(res, '/openapi.json', 'get');
    assert.deepEqual(res.json, doc, 'the YAML document, as JSON');
    const post = await request(`${main.url}/openapi.json`, { method: 'POST' });
    assert.equal(post.status, 405);
    check.assertConforms(post, '/openapi.json', 'get');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('200 {"accepted": N}, also for the document\'s own example request', async () => {
    const answer = await postEvents(main.url, 'track_played', [{ payload: trackPlayed(0) }, { payload: trackPlayed(1), event_id: 'conformance-1' }], auth(), '?version=2');
    assert.deepEqual(expectAnswer(answer, 200), { accepted: 2 });
    const components = doc.components as Json;
    const type = ((components.parameters as Json).EventType as Json).example as string;
    const example = ((((components.requestBodies as Json).Events as Json).content as Json)['application/json'] as Json).example as unknown[];
    assert.deepEqual(expectAnswer(await postEvents(main.url, type, example, auth()), 200), { accepted: example.length });
  });

  it('400 HG_INVALID_EVENT, HG_BAD_REQUEST, HG_UNKNOWN_VERSION', async () => {
    expectAnswer(await postEvents(main.url, 'track_played', [{ payload: { ...trackPlayed(0), ms_played: 'long' } }, { payload: trackPlayed(1), when: 1 }], auth()), 400, 'HG_INVALID_EVENT');
    expectAnswer(await postEvents(main.url, 'track_played', '[{"payload": ', auth()), 400, 'HG_BAD_REQUEST');
    expectAnswer(await postEvents(main.url, 'track_played', { events: [] }, auth()), 400, 'HG_BAD_REQUEST');
    expectAnswer(await postEvents(main.url, 'track_played', [{ payload: trackPlayed(0) }], auth(), '?version=0'), 400, 'HG_BAD_REQUEST');
    expectAnswer(await postEvents(main.url, 'track_played', [{ payload: trackPlayed(0) }], auth(), '?version=9'), 400, 'HG_UNKNOWN_VERSION');
  });

  it('401 HG_UNAUTHORIZED with WWW-Authenticate: missing, malformed and unknown tokens', async () => {
    for (const headers of [{}, { authorization: `Basic ${TOKEN}` }, auth(`${TOKEN}x`)]) {
      const answer = await postEvents(main.url, 'track_played', [{ payload: trackPlayed(0) }], headers);
      expectAnswer(answer, 401, 'HG_UNAUTHORIZED');
      assert.ok(answer.headers.get('www-authenticate'));
    }
  });

  it('403 HG_FORBIDDEN_TYPE: a type the key does not grant', async () => {
    expectAnswer(await postEvents(main.url, 'track_played', [{ payload: trackPlayed(0) }], auth(SEARCH_ONLY)), 403, 'HG_FORBIDDEN_TYPE');
    expectAnswer(await postEvents(main.url, 'search_performed', [{ payload: searchPerformed(0) }], auth(SEARCH_ONLY)), 200);
  });

  it('404 HG_UNKNOWN_TYPE and HG_NO_ROUTE (no type in the path; the probes are not on the public port)', async () => {
    expectAnswer(await postEvents(main.url, 'no_such_type', [{ payload: {} }], auth()), 404, 'HG_UNKNOWN_TYPE');
    expectAnswer(await postEvents(main.url, '', [{ payload: {} }], auth()), 404, 'HG_NO_ROUTE');
    const notFound = check.validator(['components', 'schemas', 'NotFoundError']);
    const probes = appRoutes(createOpsApp({ publisher: stubPublisher(), options: { retryAfterS: 1 }, lifecycle: new GatewayLifecycle() })).map((r) => r.path);
    assert.ok(probes.includes('/metrics'));
    for (const probe of new Set(probes)) {
      const answer = await request(`${main.url}${probe}`);
      assert.equal(answer.status, 404, `${probe} on the public port: ${answer.text}`);
      assert.ok(notFound(answer.json), `${probe}: ${check.ajv.errorsText(notFound.errors)}`);
      assert.equal((answer.json as { error: { code: string } }).error.code, 'HG_NO_ROUTE');
    }
  });

  it('405 HG_METHOD_NOT_ALLOWED with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await request(`${main.url}/v1/events/track_played`, { method, ...auth() });
      expectAnswer(answer, 405, 'HG_METHOD_NOT_ALLOWED');
      assert.equal(answer.headers.get('allow'), 'POST');
    }
  });

  it('413 HG_BODY_TOO_LARGE (bytes, events) and HG_EVENT_TOO_LARGE', async () => {
    const bytes = expectAnswer(await postEvents(main.url, 'track_played', [{ payload: { ...trackPlayed(0), context_uri: 'x'.repeat(70_000) } }], auth()), 413, 'HG_BODY_TOO_LARGE');
    assert.equal((bytes as { error: { details: { limit: number } } }).error.details.limit, 64 * 1024);
    const events = expectAnswer(await postEvents(main.url, 'track_played', Array.from({ length: 1001 }, () => ({ payload: {} })), auth()), 413, 'HG_BODY_TOO_LARGE');
    assert.deepEqual((events as { error: { details: unknown } }).error.details, { events: 1001, limit: 1000 });
    expectAnswer(await postEvents(main.url, 'track_played', [{ payload: { ...trackPlayed(0), context_uri: 'x'.repeat(4000) } }], auth()), 413, 'HG_EVENT_TOO_LARGE');
  });

  it('415 HG_BAD_CONTENT_TYPE: another media type, charset or Content-Encoding', async () => {
    const body = JSON.stringify([{ payload: trackPlayed(0) }]);
    expectAnswer(await postEvents(main.url, 'track_played', body, { ...auth(), 'content-type': 'text/plain' }), 415, 'HG_BAD_CONTENT_TYPE');
    expectAnswer(await postEvents(main.url, 'track_played', body, { ...auth(), 'content-type': 'application/json; charset=latin1' }), 415, 'HG_BAD_CONTENT_TYPE');
    expectAnswer(await postEvents(main.url, 'track_played', body, { ...auth(), 'content-encoding': 'lzma' }), 415, 'HG_BAD_CONTENT_TYPE');
  });

  it('429 HG_OVER_QUOTA with Retry-After: a client past its rate quota', async () => {
    const events = Array.from({ length: 3 }, (_, i) => ({ payload: trackPlayed(i) }));
    expectAnswer(await postEvents(main.url, 'track_played', events, auth(TRICKLE)), 200);
    const over = await postEvents(main.url, 'track_played', events, auth(TRICKLE));
    expectAnswer(over, 429, 'HG_OVER_QUOTA');
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
  });

  it('429 HG_BACKPRESSURE with Retry-After: the publish buffer full while Pub/Sub does not answer', async () => {
    // As in gateway.test.ts: a 1-byte buffer is full while one event waits for its ack on a blackholed link.
    const { gateway, publisher } = await start({ viaProxy: true, publisher: { maxBufferedBytes: 1, lingerMs: 1 }, gateway: { retryAfterS: 2 } });
    expectAnswer(await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }]), 200);
    proxy.cut('blackhole');
    let waiting;
    try {
      waiting = postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }]);
      await eventually('the first request to fill the buffer', () => publisher.wouldBlock());
      const busy = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(1) }]);
      expectAnswer(busy, 429, 'HG_BACKPRESSURE');
      assert.equal(busy.headers.get('retry-after'), '2');
    } finally {
      proxy.restore();
    }
    expectAnswer(await waiting, 200);
  });

  it('503 HG_PUBSUB_UNAVAILABLE with Retry-After: Pub/Sub unreachable past the publish deadline', async () => {
    const { gateway } = await start({
      viaProxy: true,
      publisher: { lingerMs: 1, publishDeadlineMs: 800, attemptTimeoutMs: 300, initialBackoffMs: 20, maxBackoffMs: 100 },
      gateway: { retryAfterS: 4 },
    });
    proxy.cut('refuse');
    try {
      const late = await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }]);
      expectAnswer(late, 503, 'HG_PUBSUB_UNAVAILABLE');
      assert.equal(late.headers.get('retry-after'), '4');
    } finally {
      proxy.restore();
    }
  });

  it('503 HG_PUBLISH_FAILED: Pub/Sub refuses the messages for good (the type\'s topic does not exist)', async () => {
    // Only the heartbeat topic exists under this prefix: the publisher registers, then Pub/Sub answers NOT_FOUND for the events.
    const prefix = 'hg-conformance-missing-';
    await stack.client.createTopic(topicNames(prefix).controlTopic);
    const { gateway } = await start({ publisher: { topicPrefix: prefix, lingerMs: 1, publishDeadlineMs: 5000 } });
    expectAnswer(await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }]), 503, 'HG_PUBLISH_FAILED');
  });

  it('503 HG_PUBLISHER_CLOSED and HG_SHUTTING_DOWN: a closed publisher, a draining gateway', async () => {
    const closed = await start();
    await closed.publisher.close();
    expectAnswer(await postEvents(closed.gateway.url, 'track_played', [{ payload: trackPlayed(0) }]), 503, 'HG_PUBLISHER_CLOSED');
    const draining = await start();
    draining.gateway.lifecycle.startDraining();
    const answer = await postEvents(draining.gateway.url, 'track_played', [{ payload: trackPlayed(0) }]);
    expectAnswer(answer, 503, 'HG_SHUTTING_DOWN');
    assert.equal(answer.headers.get('connection'), 'close');
  });

  it('500 HG_INTERNAL: a bug (a stand-in publisher that throws: no real one can be made to)', async () => {
    const publisher: GatewayPublisher = stubPublisher({
      publishMany: async () => {
        throw new Error('a bug with internals at /work/main/x.ts:1:2');
      },
    });
    const gateway = await startGateway({ publisher, registry, options: resolveGatewayOptions({}, { mode: 'local', port: 0 }), logger: silentLogger });
    cleanups.push(() => gateway.close());
    expectAnswer(await postEvents(gateway.url, 'track_played', [{ payload: trackPlayed(0) }]), 500, 'HG_INTERNAL');
  });

  it('every documented status and code of POST /v1/events/{type} was provoked above', () => {
    const missing: string[] = [];
    for (const status of check.statuses(EVENTS_PATH, 'post').map(Number)) {
      const codes = status === 200 ? [''] : (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).filter((code) => check.documentsCode(EVENTS_PATH, 'post', status, code) && !NOT_PROVOKED[code]);
      for (const code of codes) if (!seen.get(status)?.has(code)) missing.push(`${status} ${code}`.trim());
    }
    assert.deepEqual(missing, [], 'documented answers no case above provoked');
  });
});
