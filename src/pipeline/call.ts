import type { UpstreamResponse } from '../providers/provider.js';
import type { RequestContext } from './context.js';

/** Puts the target's model into the body when the target rewrites it. */
function rewriteModel(ctx: RequestContext): void {
  const model = ctx.target?.model;
  if (model && ctx.body !== undefined && ctx.body.model !== model) {
    ctx.body.model = model;
    ctx.bodyChanged = true;
  }
}

/** The base upstream call: pick the target, rewrite the model, send. Features wrap it. */
export function baseCall(ctx: RequestContext): Promise<UpstreamResponse> {
  const router = ctx.router!;
  const target = router.select(ctx);
  ctx.target = target;
  rewriteModel(ctx);
  return target.upstream.provider.send(ctx, target, ctx.abort.signal);
}

