/**
 * Which router a request would take, why, the order its strategy would give the targets,
 * and the stages it would pass: answered by the gateway's own code (parseRoute,
 * routerFor, the router's candidates()), on a pipeline compiled for the purpose. The
 * stages are listed, not run: no rate limit is charged and no cache is looked up.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { CompiledRouter, Pipeline } from '../pipeline/compiled.js';
import { RequestContext } from '../pipeline/context.js';
import { notProxied, routerFor } from '../pipeline/handle.js';
import { isJsonEndpoint, parseRoute } from '../pipeline/route.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface RouteQuery {
  readonly method?: string;
  /** The request path with its query, default `/v1/chat/completions`. */
  readonly path?: string;
  /** The body's `model`; ignored on endpoints whose body the gateway does not parse. */
  readonly model?: string;
  /** Request headers (names in any case). */
  readonly headers?: Readonly<Record<string, string>>;
  /** More of the JSON body (`model` above wins). */
  readonly body?: Readonly<Record<string, unknown>>;
}

export type RouteReason = 'path' | 'name' | 'alias' | 'default';

export interface RoutedTarget {
  readonly upstream: string;
  /** The model sent upstream: the target's own, or the caller's (null when it sends none). */
  readonly model: string | null;
  /** True when the target rewrites the model. */
  readonly rewritten: boolean;
}

export interface RouteResult {
  readonly method: string;
  readonly path: string;
  readonly router: string;
  readonly reason: RouteReason;
  /** The reason in words: `the path pins router "x"`, … */
  readonly why: string;
  readonly strategy: string;
  /** The targets in the order this request would try them (the first is tried first). */
  readonly targets: readonly RoutedTarget[];
  /** The router's stages in the order a request passes them (`feature rate_limit: …`). */
  readonly stages: readonly string[];
}

function reasonFor(router: CompiledRouter, pinned: string | null, model: string | undefined): [RouteReason, string] {
  if (pinned !== null) return ['path', `the path /router/${pinned}/v1/... pins it`];
  if (model === router.name) return ['name', `"model": ${JSON.stringify(model)} is its name`];
  if (model !== undefined && router.aliases.includes(model)) return ['alias', `"model": ${JSON.stringify(model)} is one of its aliases`];
  const what = model === undefined ? 'the request names no model' : `"model": ${JSON.stringify(model)} names no router or alias`;
  return ['default', `${what}, so default_router takes it`];
}

/** A request as the handler would see it, with no connection behind it. */
function requestOf(method: string, path: string, headers: Readonly<Record<string, string>>): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = path;
  for (const [name, value] of Object.entries(headers)) req.headers[name.toLowerCase()] = value;
  return req;
}

/** Routes one request on `pipeline`; throws the GatewayError the gateway would answer with (404s). */
export function routeRequest(pipeline: Pipeline, query: RouteQuery): RouteResult {
  const method = (query.method ?? 'POST').toUpperCase();
  const path = query.path ?? '/v1/chat/completions';
  const headers = { 'content-type': 'application/json', ...query.headers };
  const route = parseRoute(path);
  if (!route) throw notProxied(path);
  const req = requestOf(method, path, headers);
  const json = isJsonEndpoint(method, route, req.headers['content-type']);
  const model = json ? query.model : undefined;
  const router = routerFor(pipeline, route.pinned, model);

  const ctx = new RequestContext(pipeline, req, new ServerResponse(req));
  ctx.router = router;
  ctx.upstreamPath = route.upstreamPath;
  if (json) {
    ctx.body = { ...query.body, ...(model === undefined ? {} : { model }) };
    ctx.requestedModel = model;
  }
  const candidates = router.candidates(ctx);
  req.socket.destroy();

  const [reason, why] = reasonFor(router, route.pinned, model);
  return {
    method,
    path,
    router: router.name,
    reason,
    why,
    strategy: pipeline.loaded.config.routers[router.name]?.strategy ?? CONFIG_DEFAULTS.strategy,
    targets: candidates.map((t) => ({ upstream: t.upstream.name, model: t.model ?? model ?? null, rewritten: t.model !== null })),
    stages: [...router.explain],
  };
}

/** The `sidegate route` text of a result. */
export function formatRoute(result: RouteResult): string {
  const lines = [
    `${result.method} ${result.path}`,
    `router: ${result.router} (${result.why})`,
    `strategy: ${result.strategy}; targets in the order this request would try them:`,
    ...result.targets.map((t, i) => `  ${i + 1}. ${t.upstream}; model ${t.model === null ? '(none)' : JSON.stringify(t.model)}${t.rewritten ? ' (rewritten by the target)' : ''}`),
    'stages, in order:',
    ...(result.stages.length ? result.stages.map((s) => `  ${s}`) : ['  (none: the request goes straight to the target)']),
  ];
  return lines.join('\n');
}
