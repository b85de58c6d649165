import type { RequestContext } from './context.js';
import type { ChunkResult, LocalReply, MaybePromise, PlacedStage, SseEvent, Stage, StageResult, UpstreamCall } from './stage.js';
import type { ResponseHead } from '../providers/provider.js';
import type { GatewayError } from '../errors.js';
import type { CompiledTarget } from './compiled.js';
import { STAGE_ORDER } from './order.js';
import type { Caller } from './caller-key.js';

type RequestHandler = (ctx: RequestContext) => MaybePromise<StageResult>;
type ResponseHandler = (ctx: RequestContext, response: ResponseHead) => MaybePromise<void>;
export type UpgradeHandler = (caller: Caller) => MaybePromise<void>;
export type BodyHandler = (ctx: RequestContext, body: unknown) => MaybePromise<unknown>;
export type ChunkHandler = (ctx: RequestContext, event: SseEvent) => MaybePromise<ChunkResult>;
export type StreamEndHandler = (ctx: RequestContext) => MaybePromise<readonly SseEvent[] | void>;
type ErrorHandler = (ctx: RequestContext, error: GatewayError) => void;
type DoneHandler = (ctx: RequestContext) => void;
export type DataHandler = (ctx: RequestContext, chunk: Buffer) => void;
type FilterHandler = (ctx: RequestContext, candidates: readonly CompiledTarget[]) => readonly CompiledTarget[];

/** A handler with its stage's place on the ordered line. */
export interface Placed<F> {
  readonly order: number;
  readonly fn: F;
}

/**
 * One stage's part in the response body, outward from the upstream: it may transform
 * SSE events (`chunk`, `end`) or a parsed JSON body (`body`), and observe the bytes as
 * they leave it (`data`).
 */
export interface BodyStep {
  readonly order: number;
  readonly chunk: ChunkHandler | null;
  readonly end: StreamEndHandler | null;
  readonly body: BodyHandler | null;
  readonly data: DataHandler | null;
}

/**
 * A router's stages, split by phase into arrays built once at compile time. A phase no
 * stage uses is `null`, so the request path skips it with one check. Response-side
 * arrays are already reversed (outward from the upstream).
 */
export interface Phases {
  readonly authenticate: readonly Placed<RequestHandler>[] | null;
  readonly onRequest: readonly Placed<RequestHandler>[] | null;
  /** A WebSocket upgrade's checks, in pipeline order. */
  readonly onUpgrade: readonly UpgradeHandler[] | null;
  readonly filterTargets: readonly FilterHandler[] | null;
  readonly onResponse: readonly Placed<ResponseHandler>[] | null;
  /** The response body's steps, outward; null when no stage touches bodies. */
  readonly body: readonly BodyStep[] | null;
  /** Some step transforms SSE events (so streams are split into events). */
  readonly transformsEvents: boolean;
  /** Some step transforms parsed JSON bodies (so JSON answers are buffered). */
  readonly transformsJson: boolean;
  /** What an answer made at `depth` (a stage's order; Infinity for the upstream's) passes on its way out. */
  bodyAt(depth: number): BodyPlan;
  readonly onError: readonly ErrorHandler[] | null;
  readonly onDone: readonly DoneHandler[] | null;
}

function bound<F>(stage: Stage, key: keyof Stage): F | null {
  const fn = stage[key];
  return typeof fn === 'function' ? ((fn as (...args: unknown[]) => unknown).bind(stage) as F) : null;
}

function placed<F>(stages: readonly PlacedStage[], key: keyof Stage, reverse: boolean): readonly Placed<F>[] | null {
  const out: Placed<F>[] = [];
  for (const { stage, order } of stages) {
    const fn = bound<F>(stage, key);
    if (fn) out.push(Object.freeze({ order, fn }));
  }
  if (out.length === 0) return null;
  if (reverse) out.reverse();
  return Object.freeze(out);
}

function plain<F>(stages: readonly PlacedStage[], key: keyof Stage, reverse: boolean): readonly F[] | null {
  const list = placed<F>(stages, key, reverse);
  return list ? Object.freeze(list.map((p) => p.fn)) : null;
}

/**
 * Places the stages of one router on the ordered line: built-in stages at the numbers
 * they are given, user hooks at their `priority` (default after every built-in). The sort
 * is stable: equal numbers keep built-ins first, then hooks in registration order.
 */
export function orderStages(builtins: readonly PlacedStage[], hooks: readonly Stage[]): readonly PlacedStage[] {
  const all: PlacedStage[] = [...builtins, ...hooks.map((stage) => ({ stage, order: stage.priority ?? STAGE_ORDER.hook_default }))];
  return Object.freeze(
    all
      .map((p, i) => ({ p, i }))
      .sort((a, b) => a.p.order - b.p.order || a.i - b.i)
      .map((x) => Object.freeze(x.p)),
  );
}

/** The body steps an answer passes, and what they do to it. */
export interface BodyPlan {
  readonly steps: readonly BodyStep[] | null;
  readonly transformsEvents: boolean;
  readonly transformsJson: boolean;
}

function planOf(steps: readonly BodyStep[] | null): BodyPlan {
  return Object.freeze({
    steps,
    transformsEvents: steps?.some((s) => s.chunk !== null || s.end !== null) ?? false,
    transformsJson: steps?.some((s) => s.body !== null) ?? false,
  });
}

/** The steps inward of `depth` (a stage's reply passes only the stages before it). */
function stepsBefore(steps: readonly BodyStep[] | null, depth: number): readonly BodyStep[] | null {
  if (steps === null || depth === Infinity) return steps;
  const kept = steps.filter((s) => s.order < depth);
  return kept.length ? Object.freeze(kept) : null;
}

/**
 * `bodyAt` for one router: the plan at every stage's order is made here, at compile time,
 * so an answer a stage makes (a cache hit) costs no filtering per request.
 */
function bodyPlans(stages: readonly PlacedStage[], steps: readonly BodyStep[] | null): (depth: number) => BodyPlan {
  const plans = new Map<number, BodyPlan>([[Infinity, planOf(steps)]]);
  for (const { order } of stages) if (!plans.has(order)) plans.set(order, planOf(stepsBefore(steps, order)));
  return (depth) => plans.get(depth) ?? planOf(stepsBefore(steps, depth));
}

function bodySteps(stages: readonly PlacedStage[]): readonly BodyStep[] | null {
  const steps: BodyStep[] = [];
  for (let i = stages.length - 1; i >= 0; i--) {
    const { stage, order } = stages[i]!;
    const step: BodyStep = {
      order,
      chunk: bound<ChunkHandler>(stage, 'onChunk'),
      end: bound<StreamEndHandler>(stage, 'onStreamEnd'),
      body: bound<BodyHandler>(stage, 'onResponseBody'),
      data: bound<DataHandler>(stage, 'onData'),
    };
    if (step.chunk || step.end || step.body || step.data) steps.push(Object.freeze(step));
  }
  return steps.length ? Object.freeze(steps) : null;
}

export function buildPhases(stages: readonly PlacedStage[]): Phases {
  const body = bodySteps(stages);
  const bodyAt = bodyPlans(stages, body);
  const all = bodyAt(Infinity);
  return Object.freeze({
    authenticate: placed<RequestHandler>(stages, 'authenticate', false),
    onRequest: placed<RequestHandler>(stages, 'onRequest', false),
    onUpgrade: plain<UpgradeHandler>(stages, 'onUpgrade', false),
    filterTargets: plain<FilterHandler>(stages, 'filterTargets', false),
    onResponse: placed<ResponseHandler>(stages, 'onResponse', true),
    body,
    transformsEvents: all.transformsEvents,
    transformsJson: all.transformsJson,
    bodyAt,
    onError: plain<ErrorHandler>(stages, 'onError', true),
    onDone: plain<DoneHandler>(stages, 'onDone', true),
  });
}

/** Wraps `base` with every stage's `wrapCall`; the first stage ends up outermost. */
export function composeCall(stages: readonly PlacedStage[], base: UpstreamCall): UpstreamCall {
  let call = base;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i]!.stage;
    if (stage.wrapCall) call = stage.wrapCall(call);
  }
  return call;
}

/**
 * Runs request-side handlers in order (a synchronous one is not awaited); returns the
 * first LocalReply, if any stops the request, and notes where on the line it was made.
 * A handler that sent the request to another router (`ctx.reroute`) ends the phase too.
 */
export function runRequestPhase(handlers: readonly Placed<RequestHandler>[], ctx: RequestContext, from = 0): MaybePromise<LocalReply | undefined> {
  for (let i = from; i < handlers.length; i++) {
    const handler = handlers[i]!;
    const result = handler.fn(ctx);
    // Only a handler that answers with a promise makes the phase asynchronous: most answer
    // at once, and a promise per phase costs every request an allocation and microtasks.
    if (result instanceof Promise) return result.then((reply) => afterPromise(handlers, ctx, i, reply));
    if (result) {
      ctx.replyDepth = handler.order;
      return result;
    }
    if (ctx.nextRouter !== null) return undefined;
  }
  return undefined;
}

/** Goes on after handler `i` settled with `reply`: stops at a reply or a reroute, else runs the next ones. */
function afterPromise(handlers: readonly Placed<RequestHandler>[], ctx: RequestContext, i: number, reply: StageResult): MaybePromise<LocalReply | undefined> {
  if (reply) {
    ctx.replyDepth = handlers[i]!.order;
    return reply;
  }
  if (ctx.nextRouter !== null) return undefined;
  return runRequestPhase(handlers, ctx, i + 1);
}
