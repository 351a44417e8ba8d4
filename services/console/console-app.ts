// The console's HTTP surface: the status page, /api/status and /api/manifest/:type/:window, with JSON errors from the catalogue.
import express, { type NextFunction, type Request, type Response } from 'express';
import { HourglassError } from '../errors/catalogue.ts';
import { isValidTypeName } from '../registry/type-name.ts';
import { windowIndexOfId } from '../storage/layout.ts';
import { LIVE_PATHS } from '../telemetry/ops-server.ts';
import type { BucketStatusReader } from './status-reader.ts';

/** The page may only talk to this server; its script and style are inline. */
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

export function createConsoleApp(reader: BucketStatusReader, pageHtml: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    next();
  });

  app.get('/', (_req, res) => {
    res.set('content-security-policy', PAGE_CSP).type('html').send(pageHtml);
  });

  // Liveness: Cloud Run's startup and liveness probes call /health/live (it reserves some paths ending
  // in "z"); /healthz stays for local tooling. The bucket is not touched: a slow bucket is no dead process.
  app.get([...LIVE_PATHS], (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/api/status', async (req, res) => {
    const windows = optionalInt(req.query.windows, 'windows', 1, 500);
    const type = typeof req.query.type === 'string' ? typeName(req.query.type) : undefined;
    res.json(await reader.snapshot({ ...(windows === undefined ? {} : { windows }), ...(type === undefined ? {} : { type }) }));
  });

  app.get('/api/manifest/:type/:window', async (req, res) => {
    const type = typeName(String(req.params.type));
    const windowS = optionalInt(req.query.windowS, 'windowS', 1, 86_400) ?? reader.windowS;
    if (86_400 % windowS !== 0) throw new HourglassError('HG_BAD_REQUEST', `windowS ${windowS} does not divide a day`);
    const window = windowIndex(String(req.params.window), windowS);
    const detail = await reader.windowDetail(type, window, windowS);
    if (!detail) throw new HourglassError('HG_STORAGE_NOT_FOUND', `no closed window, late events or dead letters for ${type} window ${req.params.window} (${windowS} s windows)`);
    res.json(detail);
  });

  app.use((req, _res, next) => next(new HourglassError('HG_NO_ROUTE', `no route ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err instanceof HourglassError ? err : new HourglassError('HG_INTERNAL', (err as Error).message ?? String(err), { cause: err });
    res.status(e.httpStatus).json({ error: { code: e.code, message: e.message } });
  });
  return app;
}

function typeName(raw: string): string {
  if (!isValidTypeName(raw)) throw new HourglassError('HG_BAD_REQUEST', `"${raw}" is not an event type name`);
  return raw;
}

/** A window as its id (20261122T210000Z, as in the snapshot's cells) or its index. */
function windowIndex(raw: string, windowS: number): number {
  if (/^\d{1,12}$/.test(raw)) return Number(raw);
  let index: number;
  try {
    index = windowIndexOfId(raw, windowS);
  } catch {
    throw new HourglassError('HG_BAD_REQUEST', `"${raw}" is not a window id (like 20261122T210000Z) or index`);
  }
  const ms = Date.parse(`${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6, 8)}T${raw.slice(9, 11)}:${raw.slice(11, 13)}:${raw.slice(13, 15)}Z`);
  if (!Number.isFinite(ms) || ms !== index * windowS * 1000) throw new HourglassError('HG_BAD_REQUEST', `"${raw}" is not the start of a ${windowS} s window`);
  return index;
}

function optionalInt(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || v < min || v > max) throw new HourglassError('HG_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}`);
  return v;
}
