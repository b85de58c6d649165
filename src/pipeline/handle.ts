import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, upstreamFailure } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { checkDeclaredLength, readBody } from './body.js';
import { parsedFacts } from './known-bodies.js';
import type { CompiledRouter, Pipeline } from './compiled.js';
import { RequestContext } from './context.js';
import { runRequestPhase, type Phases } from './phases.js';
import { respond, respondLocal, sendError } from './respond.js';
import { isJsonEndpoint, parseRoute } from './route.js';
import { finishRequest } from './finish.js';
import { applyModel } from './call.js';
import { beginTrace } from './tracing.js';
import type { LocalReply, MaybePromise } from './stage.js';

/** What the request path needs from the gateway that owns it. */
export interface Runtime {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The live pipeline; a request captures it once, on arrival. */
  current(): Pipeline;
  /** Called when a request captured `pipeline` and when it is done with it. */
  acquire(pipeline: Pipeline, ctx?: RequestContext): void;
  release(pipeline: Pipeline, ctx?: RequestContext): void;
}

const kContext = Symbol('sidegate.context');
const kRuntime = Symbol('sidegate.runtime');
type TaggedResponse = ServerResponse & { [kContext]?: RequestContext; [kRuntime]?: Runtime };

/**
 * One listener for every response (no per-request closure): the client left before the
 * answer was complete → abort the upstream; in every case, account for the request.
 */
function onResponseClose(this: TaggedResponse): void {
  const ctx = this[kContext]!;
  if (this.writableFinished) ctx.completed = true;
  if (!ctx.completed) {
    ctx.clientClosed = true;
    ctx.abort.abort();
  }
  finishRequest(this[kRuntime]!, ctx);
}

/** The whole answer was handed over (in process, an injected request's response only says so by 'finish'). */
function onResponseFinish(this: TaggedResponse): void {
  this[kContext]!.completed = true;
}

/** The error for a path the gateway does not proxy. */
export function notProxied(url: string): GatewayError {
  return new GatewayError('not_found', `Unknown path ${url.split('?', 1)[0]}: the gateway serves /v1/* and /router/{name}/v1/*.`);
}

/**
 * The router a request takes (CONFIG.md "How a request finds its router"): the one its
 * path pins, else the one its body's `model` names, else the default; a GatewayError
 * (404) when there is none. `sidegate route` calls this too.
 */
export function routerFor(pipeline: Pipeline, pinned: string | null, model: unknown): CompiledRouter {
  if (pinned !== null) {
    const router = pipeline.routers.get(pinned);
    if (!router) throw new GatewayError('router_not_found', `Router "${pinned}" does not exist.`, { param: 'router' });
    return router;
  }
  const byModel = typeof model === 'string' ? pipeline.byModel.get(model) : undefined;
  const router = byModel ?? pipeline.defaultRouter;
  if (!router) {
    const named = typeof model === 'string' ? `The model "${model}" does not exist` : 'The request names no model';
    throw new GatewayError('model_not_found', `${named}, and no default_router is configured.`, { param: 'model' });
  }
  return router;
}

/**
 * The request side of one router: authenticate, then onRequest; a LocalReply stops it.
 * Synchronous while every handler is (a promise only where one waits).
 */
function requestSide(ctx: RequestContext, router: CompiledRouter): MaybePromise<LocalReply | undefined> {
  const phases = router.phases;
  if (!phases.authenticate) return phases.onRequest ? runRequestPhase(phases.onRequest, ctx) : undefined;
  const reply = runRequestPhase(phases.authenticate, ctx);
  return reply instanceof Promise ? reply.then((settled) => afterAuthenticate(ctx, phases, settled)) : afterAuthenticate(ctx, phases, reply);
}

function afterAuthenticate(ctx: RequestContext, phases: Phases, reply: LocalReply | undefined): MaybePromise<LocalReply | undefined> {
  if (reply || ctx.nextRouter !== null) return reply;
  return phases.onRequest ? runRequestPhase(phases.onRequest, ctx) : undefined;
}

async function run(ctx: RequestContext): Promise<void> {
  const pipeline = ctx.pipeline;
  const route = parseRoute(ctx.req.url ?? '/');
  if (!route) throw notProxied(ctx.req.url ?? '/');
  ctx.upstreamPath = route.upstreamPath;
  ctx.format = route.format;

  let model: unknown;
  if (isJsonEndpoint(ctx.method, route, ctx.req.headers['content-type'])) {
    if (route.pinned !== null) routerFor(pipeline, route.pinned, undefined); // an unknown router is a 404 before reading the body
    const raw = (ctx.rawBody = await readBody(ctx.req, pipeline.maxBody));
    const facts = pipeline.knownBodies === null ? parsedFacts(ctx, raw) : pipeline.knownBodies.read(ctx);
    ctx.stream = facts.stream;
    model = ctx.requestedModel = facts.model;
  } else {
    checkDeclaredLength(ctx.req, pipeline.maxBody);
  }
  let router = routerFor(pipeline, route.pinned, model);
  ctx.router = router;
  let reply = requestSide(ctx, router);
  if (reply instanceof Promise) reply = await reply;
  if (ctx.nextRouter !== null) {
    // A stage sent the request on: the other router's stages run from the start (once).
    router = pipeline.routers.get(ctx.nextRouter)!;
    ctx.nextRouter = null;
    ctx.router = router;
    reply = requestSide(ctx, router);
    if (reply instanceof Promise) reply = await reply;
  }
  const phases = router.phases;
  if (reply) return respondLocal(ctx, reply, phases);
  ctx.candidates = router.candidates(ctx);
  let upstream;
  try {
    upstream = await router.call(ctx, { target: ctx.candidates[0]!, signal: ctx.abort, firstByteMs: null, idleMs: null });
  } catch (err) {
    if (ctx.clientClosed) return;
    throw upstreamFailure(ctx.abortedBy() ?? err, ctx.target?.upstream.name ?? 'upstream');
  }
  if (upstream.target) {
    ctx.target = upstream.target;
    applyModel(ctx, upstream.target); // concurrent tries (hedging) may have left another target's model
  }
  await respond(ctx, upstream, phases);
}

/** The data-plane request handler: every request of every router goes through here. */
export function handleRequest(runtime: Runtime, req: IncomingMessage, res: ServerResponse): void {
  const pipeline = runtime.current();
  const ctx = new RequestContext(pipeline, req, res);
  runtime.acquire(pipeline, ctx);
  if (pipeline.telemetry !== null) beginTrace(ctx);
  const tagged = res as TaggedResponse;
  tagged[kContext] = ctx;
  tagged[kRuntime] = runtime;
  // `on`, not `once`: a response emits each of these once, and `once` wraps every listener
  // in a closure per request and removes it again when it fires.
  res.on('finish', onResponseFinish);
  res.on('close', onResponseClose);
  run(ctx).catch((err: unknown) => {
    if (ctx.clientClosed) return;
    const error =
      err instanceof GatewayError
        ? err
        : new GatewayError('internal_error', 'The gateway failed to handle the request.', { cause: err });
    if (error.code === 'internal_error') runtime.logger.error({ err, request_id: ctx.id }, 'request failed inside the gateway');
    sendError(ctx, error, ctx.router?.phases ?? null);
  });
}
