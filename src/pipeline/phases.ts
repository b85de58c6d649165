import type { RequestContext } from './context.js';
import type { LocalReply, MaybePromise, SseEvent, Stage, StageResult, UpstreamCall } from './stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import type { GatewayError } from '../errors.js';
import type { CompiledTarget } from './compiled.js';

type RequestHandler = (ctx: RequestContext) => MaybePromise<StageResult>;
type ResponseHandler = (ctx: RequestContext, response: UpstreamResponse) => MaybePromise<void>;
type BodyHandler = (ctx: RequestContext, body: unknown) => MaybePromise<unknown>;
type ChunkHandler = (ctx: RequestContext, event: SseEvent) => MaybePromise<SseEvent | null | void>;
type ErrorHandler = (ctx: RequestContext, error: GatewayError) => void;
type DoneHandler = (ctx: RequestContext) => void;
type DataHandler = (ctx: RequestContext, chunk: Buffer) => void;
type FilterHandler = (ctx: RequestContext, candidates: readonly CompiledTarget[]) => readonly CompiledTarget[];

/**
 * A router's stages, split by phase into arrays built once at compile time. A phase no
 * stage uses is `null`, so the request path skips it with one check. Response-side
 * arrays are already reversed.
 */
export interface Phases {
  readonly authenticate: readonly RequestHandler[] | null;
  readonly onRequest: readonly RequestHandler[] | null;
  readonly filterTargets: readonly FilterHandler[] | null;
  readonly onResponse: readonly ResponseHandler[] | null;
  readonly onResponseBody: readonly BodyHandler[] | null;
  readonly onData: readonly DataHandler[] | null;
  readonly onChunk: readonly ChunkHandler[] | null;
  readonly onError: readonly ErrorHandler[] | null;
  readonly onDone: readonly DoneHandler[] | null;
}

function collect<K extends keyof Stage, F>(stages: readonly Stage[], key: K, reverse: boolean): readonly F[] | null {
  const out: F[] = [];
  for (const stage of stages) {
    const fn = stage[key];
    if (typeof fn === 'function') out.push((fn as (...args: unknown[]) => unknown).bind(stage) as F);
  }
  if (out.length === 0) return null;
  if (reverse) out.reverse();
  return Object.freeze(out);
}

/**
 * Orders the stages of one router: built-in stages keep the order they are given in
 * (the fixed pipeline order, then interceptors as listed); user hooks follow, sorted by
 * `priority` (stable, so equal priorities keep registration order).
 */
export function orderStages(builtins: readonly Stage[], hooks: readonly Stage[]): readonly Stage[] {
  const sortedHooks = hooks
    .map((hook, i) => ({ hook, i }))
    .sort((a, b) => (a.hook.priority ?? 0) - (b.hook.priority ?? 0) || a.i - b.i)
    .map((x) => x.hook);
  return Object.freeze([...builtins, ...sortedHooks]);
}

export function buildPhases(stages: readonly Stage[]): Phases {
  return Object.freeze({
    authenticate: collect<'authenticate', RequestHandler>(stages, 'authenticate', false),
    onRequest: collect<'onRequest', RequestHandler>(stages, 'onRequest', false),
    filterTargets: collect<'filterTargets', FilterHandler>(stages, 'filterTargets', false),
    onResponse: collect<'onResponse', ResponseHandler>(stages, 'onResponse', true),
    onResponseBody: collect<'onResponseBody', BodyHandler>(stages, 'onResponseBody', true),
    onData: collect<'onData', DataHandler>(stages, 'onData', true),
    onChunk: collect<'onChunk', ChunkHandler>(stages, 'onChunk', true),
    onError: collect<'onError', ErrorHandler>(stages, 'onError', true),
    onDone: collect<'onDone', DoneHandler>(stages, 'onDone', true),
  });
}

/** Wraps `base` with every stage's `wrapCall`; the first stage ends up outermost. */
export function composeCall(stages: readonly Stage[], base: UpstreamCall): UpstreamCall {
  let call = base;
  for (let i = stages.length - 1; i >= 0; i--) {
    const wrap = stages[i]!.wrapCall;
    if (wrap) call = wrap.call(stages[i], call);
  }
  return call;
}

/** Runs request-side handlers in order; returns the first LocalReply, if any stops the request. */
export async function runRequestPhase(
  handlers: readonly RequestHandler[],
  ctx: RequestContext,
): Promise<LocalReply | undefined> {
  for (const handler of handlers) {
    const reply = await handler(ctx);
    if (reply) return reply;
  }
  return undefined;
}
