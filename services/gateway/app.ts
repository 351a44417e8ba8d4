// The gateway's HTTP apps: the public one (POST /v1/events/:type into the publisher, GET /openapi.json) and the ops one (probes, /metrics), created apart from listening so tests can drive them.
//
// A request goes through, in order: auth (401) -> type and version (404/400) -> content type (415)
// -> the key's grant of the type (403) -> load shedding (503/429) and the client's quota (429), both
// before the body is read, so an overloaded gateway or a noisy client does not spend CPU on bodies it
// will refuse -> body (413/400; bytes that are not UTF-8 are refused, never decoded to U+FFFD) ->
// shape, JSON mapping and schema (400) -> the quota charged -> publishMany, whose promise settles
// only once Pub/Sub acknowledged every event (200). Receive time: the publisher stamps it
// in publishMany, which runs in the same tick as the end of the body, so it is the moment the
// gateway holds the whole request; the client's clock is never read (an event carries only
// "payload" and "event_id", and payload fields may not use the identity names).
// The probes and /metrics are on the ops listener only: the public port serves nothing but the API.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express';
import { HourglassError, hasCode } from '../errors/catalogue.ts';
import type { Registry, SchemaVersion } from '../registry/registry.ts';
import type { InvalidEvent, Publisher } from '../sdk/index.ts';
import { anonymousClient, requireBearerToken, tokenListRing, type AuthenticatedLocals } from './auth.ts';
import { mayPublish, type KeyRing } from './client-keys.ts';
import { ClientQuotas } from './client-quotas.ts';
import { asHourglassError, errorAnswer } from './error-response.ts';
import type { GatewayOptions } from './gateway-options.ts';
import { GatewayLifecycle } from './lifecycle.ts';
import { gatewayLogger, type GatewayLogger } from './log.ts';
import { GatewayMetrics, type GatewayMetricsView } from './metrics.ts';
import { assertJsonContentType, fromSdkProblems, invalidEventsError, parseEventsBody, parseVersionParam } from './parse-request.ts';
import { loadOpenApiDocument } from './openapi.ts';
import { assertUtf8Body } from './utf8-body.ts';

/** What the gateway needs of a publisher (a real Publisher in production; unit tests may pass less). */
export type GatewayPublisher = Pick<Publisher, 'id' | 'publishMany' | 'wouldBlock' | 'isHealthy' | 'stats' | 'flush' | 'close'>;

/** The options the app reads (a resolved GatewayOptions has them all). */
export type GatewayAppOptions = Pick<GatewayOptions, 'authEnabled' | 'tokens' | 'maxBodyBytes' | 'maxEventsPerRequest' | 'retryAfterS'>;

/** What the ops app needs. */
export interface OpsAppDeps {
  readonly publisher: GatewayPublisher;
  readonly options: Pick<GatewayOptions, 'retryAfterS'>;
  readonly lifecycle: GatewayLifecycle;
  /** Serves GET /metrics: `startTelemetry(...).metricsHandler`. Default: none, and /metrics answers 404. */
  readonly metricsHandler?: MetricsHandler;
}

export interface GatewayAppDeps {
  readonly publisher: GatewayPublisher;
  readonly registry: Registry;
  readonly options: GatewayAppOptions;
  /** Default: JSON lines on stdout. */
  readonly logger?: GatewayLogger;
  /** Shared with the server that drains the app. Default: a fresh one. */
  readonly lifecycle?: GatewayLifecycle;
  /** Default: a fresh one, observing this app's lifecycle and publisher (never closed). */
  readonly metrics?: GatewayMetrics;
  /** The keys in force, asked on every request (a reloaded ring applies at once). Default: options.tokens (every type, no quota). */
  readonly keys?: () => KeyRing;
  /** Default: fresh buckets. */
  readonly quotas?: ClientQuotas;
}

/** Writes the Prometheus text of every instrument of the process (the gateway's, the SDK's, the failure counter). */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Per-request state kept in res.locals. */
interface EventRequestState extends AuthenticatedLocals {
  type?: string;
  /** Length of the (decompressed) body, for the client's bytes quota. */
  bodyBytes?: number;
  schema?: SchemaVersion;
  version?: number;
  events?: number;
  errorCode?: string;
}

/** Server-side failures are logged at most this often per code (every one is counted in hourglass_gateway_requests_total). */
const LOG_EVERY_MS = 1000;

/** What the gateway's gauges read, from its lifecycle, publisher and registry. */
export function metricsView(lifecycle: GatewayLifecycle, publisher: GatewayPublisher, registry: Registry): GatewayMetricsView {
  return {
    inFlightRequests: () => lifecycle.inFlight,
    draining: () => lifecycle.draining,
    publisherHealthy: () => publisher.isHealthy(),
    publisherStats: () => publisher.stats(),
    isKnownType: (type) => registry.get(type) !== undefined,
  };
}

export function createGatewayApp(deps: GatewayAppDeps): Express {
  const { publisher, registry, options } = deps;
  const logger = deps.logger ?? gatewayLogger();
  const lifecycle = deps.lifecycle ?? new GatewayLifecycle();
  const metrics = deps.metrics ?? new GatewayMetrics(metricsView(lifecycle, publisher, registry));
  const logFailure = rateLimitedFailureLog(logger);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // While draining, every answer tells the client to open its next connection elsewhere; checked when
  // the answer is written, because a request that began before the drain may end during it.
  const closeIfDraining = (res: express.Response) => {
    if (lifecycle.draining && !res.headersSent) res.setHeader('Connection', 'close');
  };
  app.use((_req, res, next) => {
    closeIfDraining(res);
    next();
  });

  // The API's own description, no token needed (services/gateway/openapi.yaml).
  app.get('/openapi.json', nameRoute, (_req, res) => {
    res.json(loadOpenApiDocument());
  });

  const track: RequestHandler = (_req, res, next) => {
    const leave = lifecycle.enter();
    res.once('close', () => {
      leave();
      const state = res.locals as EventRequestState;
      // An answer that never finished went to a client that hung up: counted as nginx does, 499.
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.recordAnswer(status, state.errorCode ?? '');
    });
    if (lifecycle.draining) return next(new HourglassError('HG_SHUTTING_DOWN', 'the gateway is shutting down'));
    next();
  };

  let keys = deps.keys;
  if (keys === undefined) {
    const ring = tokenListRing(options.tokens);
    keys = () => ring;
  }
  const authenticate: RequestHandler = options.authEnabled ? requireBearerToken(keys) : anonymousClient();
  const quotas = deps.quotas ?? new ClientQuotas();

  const prepare: RequestHandler = (req, res, next) => {
    const state = res.locals as EventRequestState;
    const type = String(req.params.type);
    const version = parseVersionParam(req.query.version);
    state.type = type;
    state.version = version;
    state.schema = version === undefined ? registry.require(type).latest : registry.version(type, version);
    assertJsonContentType(req.headers['content-type']);
    if (req.headers['content-length'] === '0') throw new HourglassError('HG_BAD_REQUEST', 'request body is empty: send a JSON array of events');
    next();
  };

  const authorizeType: RequestHandler = (_req, res, next) => {
    const { grant, type } = res.locals as EventRequestState;
    if (grant && !mayPublish(grant, type!)) {
      throw new HourglassError('HG_FORBIDDEN_TYPE', `client "${grant.client}" may not publish "${type!}": its key grants other types`, { details: { client: grant.client, type } });
    }
    next();
  };

  const shedLoad: RequestHandler = (_req, res, next) => {
    if (!publisher.isHealthy()) {
      throw new HourglassError('HG_PUBSUB_UNAVAILABLE', 'Pub/Sub has been failing: not accepting events for now');
    }
    if (publisher.wouldBlock()) throw backpressureError(options.retryAfterS);
    const { grant } = res.locals as EventRequestState;
    if (grant?.quota) {
      const verdict = quotas.check(grant.client, grant.quota);
      if (!verdict.ok) {
        throw new HourglassError('HG_OVER_QUOTA', `client "${grant.client}" is over its quota (${grant.quota.eventsPerS} events/s, ${grant.quota.bytesPerS} bytes/s): retry after ${verdict.retryAfterS} s`, {
          details: { client: grant.client, retryAfterS: verdict.retryAfterS },
        });
      }
    }
    next();
  };

  // verify sees the raw (decompressed) bytes before body-parser decodes them, which would replace bad ones.
  const readBody = express.json({
    limit: options.maxBodyBytes,
    strict: false,
    type: () => true,
    verify: (_req, res, body) => {
      assertUtf8Body(body);
      ((res as express.Response).locals as EventRequestState).bodyBytes = body.length;
    },
  });

  const publish: RequestHandler = async (req, res) => {
    const state = res.locals as EventRequestState;
    const body: unknown = req.body;
    state.events = Array.isArray(body) ? body.length : undefined;
    const items = parseEventsBody(body, state.schema!, options);
    if (publisher.wouldBlock()) throw backpressureError(options.retryAfterS);
    if (state.grant?.quota) quotas.charge(state.grant.client, state.grant.quota, items.length, state.bodyBytes ?? 0);
    try {
      // The client's event ids are scoped by who it is, so no client can suppress another's by reusing ids.
      await publisher.publishMany(state.type!, items, { eventIdScope: state.client!, ...(state.version === undefined ? {} : { version: state.version }) });
    } catch (err) {
      if (hasCode(err, 'HG_INVALID_EVENT') && Array.isArray(err.details)) throw invalidEventsError(fromSdkProblems(err.details as InvalidEvent[]));
      throw err;
    }
    metrics.recordAccepted(state.type!, items.length);
    closeIfDraining(res);
    res.json({ accepted: items.length });
  };

  app.post('/v1/events/:type', nameRoute, track, authenticate, prepare, authorizeType, shedLoad, readBody, publish);
  app.all('/v1/events/:type', nameRoute, methodNotAllowed('POST'));
  app.all('/openapi.json', nameRoute, methodNotAllowed('GET, HEAD'));
  app.use((req, _res, next) => {
    next(new HourglassError('HG_NO_ROUTE', `no route ${req.method} ${req.path.slice(0, 200)}: events go to POST /v1/events/<type>`));
  });

  const answerError: ErrorRequestHandler = (err, req, res, _next) => {
    const error = asHourglassError(err);
    const state = res.locals as EventRequestState;
    state.errorCode = error.code;
    if (state.events !== undefined) metrics.recordRejected(state.type, error.code, state.events);
    if (error.httpStatus >= 500) logFailure(error, { method: req.method, path: req.path.slice(0, 200), type: state.type });
    if (res.headersSent) {
      // Too late for an answer: cut the connection rather than send half of one.
      req.socket.destroy();
      return;
    }
    closeIfDraining(res);
    const answer = errorAnswer(error, options.retryAfterS);
    if (answer.retryAfterS !== undefined) res.setHeader('Retry-After', String(answer.retryAfterS));
    res.status(answer.status).json(answer.body);
  };
  app.use(answerError);
  return app;
}

/**
 * The ops app, on its own listener (never the public port): GET /health/live (liveness: the process
 * serves HTTP; Cloud Run's startup and liveness probes), GET /health/ready (503 while draining or while
 * Pub/Sub has been failing), GET /metrics. Cloud Run reserves some paths ending in "z", so its probes
 * do not call /healthz and /readyz; those stay as aliases for local tooling.
 */
export function createOpsApp(deps: OpsAppDeps): Express {
  const { publisher, options, lifecycle, metricsHandler } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get(['/health/live', '/healthz'], nameRoute, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(['/health/ready', '/readyz'], nameRoute, (_req, res) => {
    const reason = lifecycle.draining ? 'shutting down' : publisher.isHealthy() ? undefined : 'Pub/Sub has been failing';
    if (reason) res.status(503).setHeader('Retry-After', String(options.retryAfterS)).json({ status: 'unavailable', reason });
    else res.json({ status: 'ready' });
  });
  app.get('/metrics', nameRoute, (req, res, next) => {
    if (metricsHandler) metricsHandler(req, res);
    else next(new HourglassError('HG_NO_ROUTE', 'no metrics here: this gateway was started without telemetry'));
  });
  app.all(['/health/live', '/health/ready', '/healthz', '/readyz', '/metrics'], nameRoute, methodNotAllowed('GET, HEAD'));
  app.use((req, _res, next) => {
    next(new HourglassError('HG_NO_ROUTE', `no route ${req.method} ${req.path.slice(0, 200)} on the ops port: /health/live, /health/ready (aliases /healthz, /readyz), /metrics`));
  });
  const answerError: ErrorRequestHandler = (err, _req, res, _next) => {
    const answer = errorAnswer(asHourglassError(err), options.retryAfterS);
    res.status(answer.status).json(answer.body);
  };
  app.use(answerError);
  return app;
}

/**
 * First handler of every route: names the route it matched (e.g. "/v1/events/:type") as http.route, which the HTTP
 * instrumentation (services/telemetry/telemetry.ts) puts on the request's server span and http.server.request.duration.
 * That instrumentation sees the raw path only (express itself is not instrumented): it reads the route from the
 * request's RPC metadata when the response closes. Without telemetry there is none, and this does nothing.
 */
const nameRoute: RequestHandler = (req, _res, next) => {
  const rpc = getRPCMetadata(context.active());
  if (rpc?.type === RPCType.HTTP) {
    const route = routeOf(req);
    if (route !== undefined) rpc.route = route;
  }
  next();
};

/** The path of the route `req` matched; of a route with several (literal) paths, the one asked for. */
function routeOf(req: Request): string | undefined {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return path;
  if (!Array.isArray(path)) return undefined;
  // express matches without case and with a trailing slash; the label keeps the route's own spelling.
  const asked = req.path.replace(/(?<=.)\/$/, '').toLowerCase();
  const paths = path.filter((p): p is string => typeof p === 'string');
  return paths.find((p) => p.toLowerCase() === asked) ?? paths[0];
}

function backpressureError(retryAfterS: number): HourglassError {
  return new HourglassError('HG_BACKPRESSURE', `the gateway's publish buffer is full: retry after ${retryAfterS} s`);
}

function methodNotAllowed(allow: string): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Allow', allow);
    next(new HourglassError('HG_METHOD_NOT_ALLOWED', `${req.method} is not allowed here (allowed: ${allow})`));
  };
}

/** Logs server-side failures with their cause, at most once per LOG_EVERY_MS per code, noting how many were skipped. */
function rateLimitedFailureLog(logger: GatewayLogger): (error: HourglassError, fields: Record<string, unknown>) => void {
  const last = new Map<string, { atMs: number; skipped: number }>();
  return (error, fields) => {
    const now = Date.now();
    const seen = last.get(error.code);
    if (seen && now - seen.atMs < LOG_EVERY_MS) {
      seen.skipped++;
      return;
    }
    last.set(error.code, { atMs: now, skipped: 0 });
    logger.log(error.code === 'HG_INTERNAL' ? 'error' : 'warn', 'request_failed', {
      code: error.code,
      ...fields,
      error,
      ...(seen?.skipped ? { skippedSinceLast: seen.skipped } : {}),
    });
  };
}
