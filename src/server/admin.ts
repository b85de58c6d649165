import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the admin listener reads from the gateway. */
export interface AdminSource {
  readonly draining: boolean;
  stats(): unknown;
  redactedConfig(): unknown;
  metricsText(): Promise<{ contentType: string; body: string }>;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function notFound(res: ServerResponse, path: string): void {
  json(res, 404, { error: { message: `No admin endpoint ${path}`, type: 'not_found_error', param: null, code: 'not_found' } });
}

/**
 * The admin listener (separate port, loopback by default): /healthz, /readyz, /health,
 * /stats, /metrics, /config. Features add their own sections to /stats.
 */
export function adminHandler(source: AdminSource): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET');
      json(res, 405, { error: { message: `${req.method} is not allowed on ${path}`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } });
      return;
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz':
        return source.draining ? json(res, 503, { status: 'draining' }) : json(res, 200, { status: 'ready' });
      case '/health':
        return json(res, 200, { status: 'healthy', service: 'sidegate', timestamp: String(Math.floor(Date.now() / 1000)) });
      case '/stats':
        return json(res, 200, source.stats());
      case '/config':
        return json(res, 200, source.redactedConfig());
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
