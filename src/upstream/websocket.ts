import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { ProxyServer } from 'http-proxy-3';
import { GatewayError } from '../errors.js';
import type { CompiledRouter, CompiledTarget, Pipeline } from '../pipeline/compiled.js';
import { parseRoute } from '../pipeline/route.js';
import type { Caller } from '../pipeline/caller-key.js';
import { inSequence } from '../pipeline/in-sequence.js';
import { upstreamPathFor } from '../providers/http.js';

/**
 * WebSocket upgrades (`/v1/realtime`, `/router/{name}/v1/realtime`) are proxied to the
 * router's target with http-proxy-3. The model comes from the `model` query parameter
 * (as OpenAI's Realtime API takes it) and is rewritten when the target says so.
 */

const require = createRequire(import.meta.url);

/**
 * One proxy for all upgrades: the target is chosen per request, and it holds no pool.
 * Loaded on the first upgrade: a gateway that never sees a WebSocket never pays its memory.
 */
let proxy: ProxyServer | null = null;
function wsProxy(): ProxyServer {
  if (proxy) return proxy;
  const { ProxyServer: Server } = require('http-proxy-3') as typeof import('http-proxy-3');
  proxy = new Server({ ws: true, changeOrigin: true, prependPath: false });
  proxy.on('error', () => {
    /* per-call callbacks handle errors; this keeps an unhandled 'error' from crashing the process */
  });
  return proxy;
}

function refuse(socket: Duplex, error: GatewayError): void {
  const body = JSON.stringify(error.toJSON());
  let extra = '';
  for (const [name, value] of Object.entries(error.headers ?? {})) extra += `${name}: ${value}\r\n`;
  socket.end(
    `HTTP/1.1 ${error.status} ${error.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

function routerOf(pipeline: Pipeline, pinned: string | null, model: string | null): CompiledRouter {
  if (pinned !== null) {
    const router = pipeline.routers.get(pinned);
    if (!router) throw new GatewayError('router_not_found', `Router "${pinned}" does not exist.`);
    return router;
  }
  const router = (model !== null ? pipeline.byModel.get(model) : undefined) ?? pipeline.defaultRouter;
  if (!router) throw new GatewayError('model_not_found', `The model "${model ?? ''}" does not exist, and no default_router is configured.`);
  return router;
}

/** Handles one `upgrade` event of the data-plane server. */
export function proxyUpgrade(pipeline: Pipeline, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  try {
    const route = parseRoute(req.url ?? '/');
    if (!route) throw new GatewayError('not_found', `Unknown path ${req.url}: WebSockets are proxied on /v1/* only.`);
    const url = new URL(route.upstreamPath, 'http://gateway');
    const router = routerOf(pipeline, route.pinned, url.searchParams.get('model'));
    // A WebSocket needs a key as any request does, and counts as one against its limits.
    const identity = pipeline.tenancy?.identifyUpgrade(req, router.name) ?? null;
    const target = router.candidates(null)[0]!;
    if (!target.upstream.wsOrigin) throw new GatewayError('not_found', `Upstream "${target.upstream.name}" does not accept WebSocket connections.`);
    // The router's stages' onUpgrade (rate limits), in order; a promise only when one waits (a shared store).
    const caller: Caller = { req, identity };
    const checks = router.phases.onUpgrade;
    const checked = checks === null ? undefined : inSequence(checks.map((check) => () => check(caller)));
    if (!(checked instanceof Promise)) forward(target, url, req, socket, head);
    else checked.then(() => forward(target, url, req, socket, head)).catch((err: unknown) => refuseWith(socket, err));
  } catch (err) {
    refuseWith(socket, err);
  }
}

function refuseWith(socket: Duplex, err: unknown): void {
  if (socket.destroyed) return;
  refuse(socket, err instanceof GatewayError ? err : new GatewayError('internal_error', 'WebSocket proxying failed.'));
}

function forward(target: CompiledTarget, url: URL, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  if (socket.destroyed) return;
  const base = target.upstream.wsOrigin!;
  if (target.model && url.searchParams.has('model')) url.searchParams.set('model', target.model);
  const baseUrl = new URL(base);
  req.url = upstreamPathFor(baseUrl.pathname.replace(/\/+$/, ''), url.pathname + url.search);
  const credential = target.upstream.credential;
  if (credential) {
    delete req.headers.authorization;
    delete req.headers['x-api-key'];
    delete req.headers['api-key'];
    req.headers[credential[0]] = credential[1];
  }
  wsProxy().ws(req, socket as never, head, { target: baseUrl.origin }, () => socket.destroy());
}
