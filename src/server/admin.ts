import type { IncomingMessage, ServerResponse } from 'node:http';
import { prettyJsonSteps } from '../util/pretty-json.js';
import { runSliced, type Steps } from '../util/slices.js';

/** What the admin listener reads from the gateway. */
export interface AdminSource {
  readonly draining: boolean;
  /** The /stats document, built in steps (it grows with the routers); without the routers when `routers` is false. */
  statsSteps(options?: { routers?: boolean }): Steps<unknown>;
  redactedConfig(): unknown;
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** /readyz: ready or not, and the detail shown (state backend health). */
  readiness?(): { ready: boolean; detail: Record<string, unknown> };
  /** DELETE /cache: null when the named router does not exist. */
  clearCache?(router?: string): Promise<{ router: string | null; removed: number } | null>;
  /** DELETE /memory?scope=: forgets one scope's semantic memory (every router's, or one); null when the router does not exist. */
  forgetMemory?(scope: string, router?: string): Promise<{ scope: string; routers: string[]; removed: number } | null>;
  /** GET /keys: tenancy's keys with their teams, state and spend; null without tenancy. */
  keys?(): Promise<Record<string, unknown> | null>;
  /** Whether the request's `Authorization` carries `server.admin_token` (true when none is set). */
  adminAuthorized?(authorization: string | undefined): boolean;
}

/** The query string of an admin request. */
function queryOf(req: IncomingMessage): URLSearchParams {
  return new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
}

/** What probes reach without the admin token. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

function keys(source: AdminSource, res: ServerResponse): void {
  if (!source.keys) return json(res, 404, { error: { message: 'No keys: the config has no `auth`.', type: 'not_found_error', param: null, code: 'not_found' } });
  source.keys().then(
    (report) => {
      if (report) return json(res, 200, report);
      json(res, 404, { error: { message: 'No keys: the config has no `auth`.', type: 'not_found_error', param: null, code: 'not_found' } });
    },
    (err: Error) => json(res, 500, { error: { message: err.message, type: 'api_error', param: null, code: 'internal_error' } }),
  );
}

/** What the probe-only listener (`server.health`) serves. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);
/** What the metrics-only listener (`server.metrics`) serves. */
export const METRICS_PATHS: ReadonlySet<string> = new Set(['/metrics']);

function clearCache(source: AdminSource, req: IncomingMessage, res: ServerResponse): void {
  const query = queryOf(req);
  const router = query.get('router') ?? undefined;
  const fail = (err: Error): void => json(res, 500, { error: { message: err.message, type: 'api_error', param: null, code: 'internal_error' } });
  if (!source.clearCache) return json(res, 200, { router: router ?? null, removed: 0 });
  source.clearCache(router).then((result) => {
    if (result) return json(res, 200, result);
    json(res, 404, { error: { message: `Router "${router}" does not exist.`, type: 'invalid_request_error', param: 'router', code: 'router_not_found' } });
  }, fail);
}

function forgetMemory(source: AdminSource, req: IncomingMessage, res: ServerResponse): void {
  const query = queryOf(req);
  const scope = query.get('scope');
  const router = query.get('router') ?? undefined;
  if (!scope) return json(res, 400, { error: { message: 'Name the memory to forget: DELETE /memory?scope=<value>.', type: 'invalid_request_error', param: 'scope', code: 'invalid_request' } });
  if (!source.forgetMemory) return json(res, 200, { scope, routers: [], removed: 0 });
  source.forgetMemory(scope, router).then(
    (result) => {
      if (result) return json(res, 200, result);
      json(res, 404, { error: { message: `Router "${router}" does not exist.`, type: 'invalid_request_error', param: 'router', code: 'router_not_found' } });
    },
    (err: Error) => json(res, 500, { error: { message: err.message, type: 'api_error', param: null, code: 'internal_error' } }),
  );
}

/**
 * Answers with `value` as indented JSON, rendered in slices: /stats, /config and /keys grow
 * with the config (10,000 routers or keys), and rendering one in a single step would hold
 * every request behind it.
 */
function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, runSliced(prettyJsonSteps(value)));
}

function* built(steps: Steps<unknown>): Steps<string> {
  return yield* prettyJsonSteps(yield* steps);
}

/** A 200 with a document that is built in steps, then rendered: all in slices. */
function document(res: ServerResponse, steps: Steps<unknown>): void {
  send(res, 200, runSliced(built(steps)));
}

function send(res: ServerResponse, status: number, rendered: Promise<string>): void {
  rendered.then(
    (body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    },
    (err: Error) => {
      if (status !== 500) json(res, 500, { error: { message: err.message, type: 'api_error', param: null, code: 'internal_error' } });
      else res.destroy(err);
    },
  );
}

function notFound(res: ServerResponse, path: string): void {
  json(res, 404, { error: { message: `No admin endpoint ${path}`, type: 'not_found_error', param: null, code: 'not_found' } });
}

/**
 * The admin listener (separate port, loopback by default): /healthz, /readyz, /health,
 * /stats, /metrics, /config, /keys, `DELETE /cache` (`?router=<name>` for one router's
 * cache) and `DELETE /memory?scope=<value>` (semantic memory; `&router=<name>` for one
 * router's). Features add their own sections to /stats. With `only`, every other path is a
 * 404 (the probe-only and metrics-only listeners, which may face the pod network). With
 * `server.admin_token`, everything but /healthz and /readyz needs it.
 */
export function adminHandler(source: AdminSource, only?: ReadonlySet<string>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (only && !only.has(path)) return notFound(res, path);
    if (!OPEN_PATHS.has(path) && source.adminAuthorized && !source.adminAuthorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="sidegate-admin"');
      return json(res, 401, {
        error: { message: 'This admin endpoint needs `Authorization: Bearer <server.admin_token>`.', type: 'invalid_request_error', param: null, code: 'invalid_admin_token' },
      });
    }
    if (path === '/cache' && req.method === 'DELETE') return clearCache(source, req, res);
    if (path === '/memory' && req.method === 'DELETE') return forgetMemory(source, req, res);
    const deleteOnly = path === '/cache' || path === '/memory';
    if (deleteOnly || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.setHeader('allow', deleteOnly ? 'DELETE' : 'GET');
      json(res, 405, { error: { message: `${req.method} is not allowed on ${path}`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } });
      return;
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const readiness = source.readiness?.() ?? { ready: !source.draining, detail: { status: source.draining ? 'draining' : 'ready' } };
        return json(res, readiness.ready ? 200 : 503, readiness.detail);
      }
      case '/health':
        return json(res, 200, { status: 'healthy', service: 'sidegate', timestamp: String(Math.floor(Date.now() / 1000)) });
      case '/stats': {
        // `?routers=false`: the gateway's own part only, for a poller that waits on a reload.
        return document(res, source.statsSteps({ routers: queryOf(req).get('routers') !== 'false' }));
      }
      case '/config':
        return json(res, 200, source.redactedConfig());
      case '/keys':
        return keys(source, res);
      case '/metrics':
        source.metricsText().then(
          ({ contentType, body }) => {
            res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
            res.end(body);
          },
          (err: Error) => json(res, 500, { error: { message: err.message, type: 'api_error', param: null, code: 'internal_error' } }),
        );
        return;
      default:
        return notFound(res, path);
    }
  };
}
